import { z } from 'zod';
import type { InboundMediaRef } from '../integrations/gateway';

/**
 * WaSender webhook bodies → normalised items.
 *
 * The provider has shipped several shapes over time (data.messages as an object or an array, or the message
 * directly under data; statuses as numbers or strings), so the parser accepts all of them, keeps unknown
 * fields, and is strict only on the fields the rest of the system relies on (ids, chat JIDs, status values).
 */

export const MESSAGE_EVENTS = ['messages.upsert', 'messages.received', 'messages-personal.received'] as const;
export const STATUS_EVENTS = ['messages.update', 'message-receipt.update', 'message.sent'] as const;
export const SESSION_EVENTS = ['session.status'] as const;

export type MessageType =
  | 'text'
  | 'image'
  | 'audio'
  | 'video'
  | 'document'
  | 'sticker'
  | 'location'
  | 'contact'
  | 'reaction'
  | 'other';

/** Ordered from worst to best; only `failed` may replace a later status. */
export type DeliveryStatus = 'failed' | 'pending' | 'sent' | 'delivered' | 'read' | 'played';

export interface WebhookMessageItem {
  kind: 'message';
  /** WhatsApp message id (`key.id`), the idempotency key. */
  providerId: string;
  /** `key.remoteJid`: the chat, which may be a phone JID, a `@lid`, a group, a broadcast or a newsletter. */
  chatJid: string;
  /** Digits only, no `+`. For groups: the participant who sent it. For direct chats: the other party. */
  phone: string | null;
  /** Full `...@lid` JID of the same person as `phone`, when known. */
  lid: string | null;
  fromMe: boolean;
  pushName: string | null;
  type: MessageType;
  text: string | null;
  timestamp: Date;
  isGroup: boolean;
  isBroadcast: boolean;
  isNewsletter: boolean;
  /** Protocol traffic (revokes, edits, key distribution, stubs): not a message a person wrote. */
  isProtocol: boolean;
  /** The attachment of an image, audio, video, document or sticker message, when the payload names one. */
  media?: InboundMediaRef;
  /** The gateway the message came through (absent: WaSender). */
  channel?: 'wasender' | 'whatsapp-cloud';
  /** A location or contact card, as structured data (stored on the message). */
  card?: MessageCard;
}

/** The structured content of a location or contact-card message. */
export type MessageCard =
  | {
      kind: 'location';
      latitude: number;
      longitude: number;
      name: string | null;
      address: string | null;
    }
  | { kind: 'contacts'; contacts: Array<{ name: string | null; vcard: string | null; phones: string[] }> };

export interface WebhookStatusItem {
  kind: 'status';
  /** WhatsApp message id (`key.id`) the status is about. */
  providerId: string;
  status: DeliveryStatus;
  error: string | null;
  /** WaSender's own numeric message id, when the payload carries it (links it to `providerId`). */
  msgId: string | null;
}

export interface WebhookSessionItem {
  kind: 'session';
  status: string;
}

/**
 * An entry of the webhook that cannot be handled (a field of the wrong type, an id too long to be
 * real): kept whole, with the reason, for the dead-letter table. The other entries of the same
 * webhook are handled as usual.
 */
export interface WebhookRejectedItem {
  kind: 'rejected';
  reason: string;
  /** The entry's message id, when it had a readable one (cut to `MAX_ID_CHARS`). */
  providerId: string | null;
  /** The entry as a one-entry webhook body (`{ event, data }`), sanitised so Postgres can store it. */
  raw: RawEntry;
}

export type WebhookItem = WebhookMessageItem | WebhookStatusItem | WebhookSessionItem | WebhookRejectedItem;

/** One entry of a webhook as a webhook body of its own: parsing it again gives the same item. */
export interface RawEntry {
  event: string;
  data: unknown;
}

export type ParsedWebhook = { ok: true; event: string; items: WebhookItem[] } | { ok: false; error: string };

export interface ParseOptions {
  /** Clock used when a message carries no usable timestamp. */
  now?: Date;
}

// ---------------------------------------------------------------------------------------------------------
// Limits on what is stored. WhatsApp's own limits are well below them; anything above is not from a
// real client, and must not reach the database or the model whole.

/** Longest message text kept, in UTF-16 code units (WhatsApp's own limit is 65,536 characters). */
export const MAX_TEXT_CHARS = 65_536;
/** Appended to a text cut at `MAX_TEXT_CHARS`, so readers (people and the model) know it was cut. */
export const TRUNCATION_MARKER = '\n[… message truncated: it was longer than 65,536 characters]';
/** Longest profile name (pushName) and session status kept; longer ones are cut. */
export const MAX_NAME_CHARS = 256;
/**
 * Longest message id accepted. WhatsApp ids are about 20-40 characters. Ids must stay unique, so a
 * longer one is never cut: its entry goes to the dead letters instead.
 */
export const MAX_ID_CHARS = 256;
/** Longest LID user part read (real ones have about 15 digits). */
const MAX_LID_DIGITS = 24;
/** Latest time accepted from the gateway: the end of the year 9999 (Postgres goes further; JS and ISO dates do not). */
const MAX_TIME_MS = Date.UTC(9999, 11, 31, 23, 59, 59, 999);
/** Strings inside a dead letter's raw item are cut to this length. */
const MAX_RAW_STRING_CHARS = MAX_TEXT_CHARS;
/** Nesting kept inside a dead letter's raw item. */
const MAX_RAW_DEPTH = 32;

/** Half of a UTF-16 surrogate pair without its other half. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const LONE_SURROGATES = new RegExp(LONE_SURROGATE.source, 'g');

/**
 * A string Postgres text (and jsonb) accepts: NUL removed, lone surrogates (half of a UTF-16 pair,
 * which JSON can carry but UTF-8 cannot) replaced by U+FFFD.
 */
export function cleanString(value: string): string {
  const noNul = value.includes('\u0000') ? value.replaceAll('\u0000', '') : value;
  return LONE_SURROGATE.test(noNul) ? noNul.replace(LONE_SURROGATES, '\uFFFD') : noNul;
}

/** The first `max` code units of `value`, without splitting a surrogate pair. */
function cut(value: string, max: number): string {
  if (value.length <= max) return value;
  const end = /[\uD800-\uDBFF]/.test(value.charAt(max - 1)) ? max - 1 : max;
  return value.slice(0, end);
}

/** A message text for storage: cleaned, and cut at `MAX_TEXT_CHARS` with `TRUNCATION_MARKER`. */
export function boundText(value: string): string {
  const clean = cleanString(value);
  return clean.length > MAX_TEXT_CHARS ? cut(clean, MAX_TEXT_CHARS) + TRUNCATION_MARKER : clean;
}

/** A name or short label for storage: cleaned, trimmed and cut at `MAX_NAME_CHARS`. */
function boundName(value: string | null): string | null {
  if (value === null) return null;
  const clean = cut(cleanString(value).trim(), MAX_NAME_CHARS).trim();
  return clean === '' ? null : clean;
}

/**
 * Any JSON value made storable in a jsonb column: strings (and keys) cleaned and cut, nesting
 * bounded. Used for the raw items kept in dead letters.
 */
export function sanitizeJson(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return cut(cleanString(value), MAX_RAW_STRING_CHARS);
  if (typeof value === 'number') return Number.isFinite(value) ? value : null;
  if (typeof value === 'boolean' || value === null) return value;
  if (typeof value !== 'object' || depth >= MAX_RAW_DEPTH) return null;
  if (Array.isArray(value)) return value.map((v) => sanitizeJson(v, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    if (v !== undefined) out[cut(cleanString(k), MAX_NAME_CHARS)] = sanitizeJson(v, depth + 1);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------
// Schemas: loose objects (extra fields pass through) with strict types on the fields that are used.

const envelopeSchema = z.looseObject({
  event: z.string().min(1, 'must be a non-empty string'),
  timestamp: z.unknown().optional(),
  data: z.unknown().optional(),
});

const messageKeySchema = z.looseObject({
  id: z.string().min(1, 'must be a non-empty string'),
  remoteJid: z.string().min(1, 'must be a non-empty string'),
  fromMe: z.boolean().nullish(),
});

const contentSchema = z.record(z.string(), z.unknown());

const messageSchema = z.looseObject({
  key: messageKeySchema,
  message: contentSchema.nullish(),
  messageBody: z.string().nullish(),
  pushName: z.string().nullish(),
  messageTimestamp: z.unknown().optional(),
  messageStubType: z.unknown().optional(),
});

const idOnlyKeySchema = z.looseObject({
  id: z.string().min(1, 'must be a non-empty string'),
});

const statusValueSchema = z.union([z.number(), z.string()], {
  error: 'expected a status number (0-5) or a status name',
});

const updateEntrySchema = z.looseObject({
  key: idOnlyKeySchema,
  update: z.looseObject({ status: statusValueSchema.nullish() }).nullish(),
  status: statusValueSchema.nullish(),
});

const receiptEntrySchema = z.looseObject({
  key: idOnlyKeySchema,
  receipt: z.looseObject({}).nullish(),
  update: z.looseObject({ status: statusValueSchema.nullish() }).nullish(),
  status: statusValueSchema.nullish(),
});

const sentEntrySchema = z.looseObject({
  key: idOnlyKeySchema,
  msgId: z.union([z.string(), z.number()]).nullish(),
});

const sessionDataSchema = z.looseObject({
  status: z.string().min(1, 'must be a non-empty string'),
});

// ---------------------------------------------------------------------------------------------------------
// Small pure helpers.

type Dict = Record<string, unknown>;

function isDict(value: unknown): value is Dict {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function nonEmptyString(value: unknown): string | null {
  return typeof value === 'string' && value.trim() !== '' ? value : null;
}

function formatPath(base: string, path: readonly PropertyKey[]): string {
  let out = base;
  for (const segment of path) {
    out += typeof segment === 'number' ? `[${segment}]` : `${out === '' ? '' : '.'}${String(segment)}`;
  }
  return out === '' ? 'body' : out;
}

function describeZodError(base: string, error: z.ZodError): string {
  const issue = error.issues[0];
  if (!issue) return `${base || 'body'}: invalid`;
  return `${formatPath(base, issue.path)}: ${issue.message}`;
}

class MalformedError extends Error {}

/** A message id as stored: cleaned, and refused (never cut) when longer than `MAX_ID_CHARS`. */
function messageId(value: string, path: string): string {
  const id = cleanString(value).trim();
  if (id === '') throw new MalformedError(`${path}: must be a non-empty string`);
  if (id.length > MAX_ID_CHARS) {
    throw new MalformedError(
      `${path}: is ${id.length} characters long, more than the ${MAX_ID_CHARS} a message id may have`,
    );
  }
  return id;
}

function parseWith<T>(schema: z.ZodType<T>, value: unknown, path: string): T {
  const result = schema.safeParse(value);
  if (!result.success) throw new MalformedError(describeZodError(path, result.error));
  return result.data;
}

const STATUS_BY_NUMBER: readonly DeliveryStatus[] = [
  'failed',
  'pending',
  'sent',
  'delivered',
  'read',
  'played',
];

const STATUS_BY_NAME: Readonly<Record<string, DeliveryStatus>> = {
  error: 'failed',
  failed: 'failed',
  failure: 'failed',
  pending: 'pending',
  clock: 'pending',
  sent: 'sent',
  server_ack: 'sent',
  delivered: 'delivered',
  delivery_ack: 'delivered',
  read: 'read',
  read_ack: 'read',
  seen: 'read',
  played: 'played',
  played_ack: 'played',
};

/**
 * Maps a WaSender/Baileys status (0-5, a numeric string, or a name such as `DELIVERY_ACK` or `read`) to a
 * delivery status. Returns null for values it does not know.
 */
export function mapStatus(value: unknown): DeliveryStatus | null {
  if (typeof value === 'number') {
    return Number.isInteger(value) ? (STATUS_BY_NUMBER[value] ?? null) : null;
  }
  if (typeof value !== 'string') return null;
  const name = value
    .trim()
    .toLowerCase()
    .replace(/[\s-]+/g, '_');
  if (/^\d+$/.test(name)) return STATUS_BY_NUMBER[Number(name)] ?? null;
  return STATUS_BY_NAME[name] ?? null;
}

/**
 * Converts a message timestamp to a Date: Unix seconds or milliseconds (told apart by magnitude), as a number,
 * a numeric string or a protobuf Long (`{ low, high }`). Returns null when it is not a usable time.
 */
export function toTimestamp(value: unknown): Date | null {
  let n: number;
  if (typeof value === 'number') n = value;
  else if (typeof value === 'string' && /^\s*\d+(\.\d+)?\s*$/.test(value)) n = Number(value);
  else if (isDict(value) && typeof value.low === 'number' && typeof value.high === 'number') {
    n = (value.high >>> 0) * 2 ** 32 + (value.low >>> 0);
  } else return null;
  if (!Number.isFinite(n) || n <= 0) return null;
  // 1e11 seconds is the year 5138; 1e11 milliseconds is 1973.
  const ms = n < 1e11 ? n * 1000 : n;
  if (ms > MAX_TIME_MS) return null;
  const date = new Date(ms);
  return Number.isNaN(date.getTime()) ? null : date;
}

const WRAPPER_KEYS = [
  'ephemeralMessage',
  'viewOnceMessage',
  'viewOnceMessageV2',
  'viewOnceMessageV2Extension',
  'documentWithCaptionMessage',
  'editedMessage',
  'deviceSentMessage',
  'futureProofMessage',
] as const;

/** Follows wrapper messages (ephemeral, view-once, document-with-caption, ...) to the real content. */
function unwrapContent(content: Dict): Dict {
  let current = content;
  for (let depth = 0; depth < 5; depth++) {
    let next: Dict | null = null;
    for (const key of WRAPPER_KEYS) {
      const wrapper = current[key];
      if (isDict(wrapper) && isDict(wrapper.message)) {
        next = wrapper.message;
        break;
      }
    }
    if (!next) return current;
    current = next;
  }
  return current;
}

const CAPTION_KEYS = ['imageMessage', 'videoMessage', 'documentMessage', 'ptvMessage'] as const;

/**
 * The text a person wrote: `messageBody` (WaSender's unified text), else `message.conversation`, else
 * `message.extendedTextMessage.text`, else a media caption. Null when there is none (or it is blank).
 */
export function extractText(input: { messageBody?: unknown; message?: unknown }): string | null {
  const body = nonEmptyString(input.messageBody);
  if (body !== null) return body;
  if (!isDict(input.message)) return null;
  const content = unwrapContent(input.message);
  const conversation = nonEmptyString(content.conversation);
  if (conversation !== null) return conversation;
  const extended = content.extendedTextMessage;
  if (isDict(extended)) {
    const text = nonEmptyString(extended.text);
    if (text !== null) return text;
  }
  for (const key of CAPTION_KEYS) {
    const media = content[key];
    if (isDict(media)) {
      const caption = nonEmptyString(media.caption);
      if (caption !== null) return caption;
    }
  }
  return null;
}

const TYPE_BY_KEY: ReadonlyArray<readonly [string, MessageType]> = [
  ['reactionMessage', 'reaction'],
  ['imageMessage', 'image'],
  ['videoMessage', 'video'],
  ['ptvMessage', 'video'],
  ['audioMessage', 'audio'],
  ['pttMessage', 'audio'],
  ['documentMessage', 'document'],
  ['stickerMessage', 'sticker'],
  ['lottieStickerMessage', 'sticker'],
  ['locationMessage', 'location'],
  ['liveLocationMessage', 'location'],
  ['contactMessage', 'contact'],
  ['contactsArrayMessage', 'contact'],
  ['conversation', 'text'],
  ['extendedTextMessage', 'text'],
];

/** Keys that carry no user content; a message made only of these is protocol traffic. */
const NON_CONTENT_KEYS = new Set(['senderKeyDistributionMessage', 'messageContextInfo', 'keepInChatMessage']);

function classify(
  content: Dict | null,
  text: string | null,
  stub: unknown,
): { type: MessageType; isProtocol: boolean } {
  const inner = content ? unwrapContent(content) : null;
  if (inner) {
    for (const [key, type] of TYPE_BY_KEY) {
      if (inner[key] !== undefined && inner[key] !== null) {
        return { type, isProtocol: inner.protocolMessage !== undefined && inner.protocolMessage !== null };
      }
    }
    if (inner.protocolMessage !== undefined && inner.protocolMessage !== null) {
      return { type: 'other', isProtocol: true };
    }
    const keys = Object.keys(inner);
    if (keys.length > 0 && keys.every((k) => NON_CONTENT_KEYS.has(k)))
      return { type: 'other', isProtocol: true };
  }
  if (text !== null) return { type: 'text', isProtocol: false };
  const hasStub = stub !== undefined && stub !== null && stub !== 0 && stub !== '';
  return { type: 'other', isProtocol: hasStub };
}

/** Digits of a phone number from a bare number or a `@s.whatsapp.net` / `@c.us` JID; null for anything else. */
function phoneFrom(value: unknown): string | null {
  if (typeof value !== 'string') return null;
  const trimmed = value.trim();
  let user: string;
  const at = trimmed.indexOf('@');
  if (at === -1) user = trimmed;
  else {
    const server = trimmed.slice(at + 1).toLowerCase();
    if (server !== 's.whatsapp.net' && server !== 'c.us') return null;
    user = trimmed.slice(0, at);
  }
  // Drop a device suffix (`123:4@s.whatsapp.net`) and formatting such as a leading `+` or spaces.
  const base = user.split(':')[0] ?? '';
  if (!/^\+?[\d\s().-]+$/.test(base)) return null;
  const digits = base.replace(/\D/g, '');
  return digits.length >= 6 && digits.length <= 15 ? digits : null;
}

/** A `...@lid` JID with any device suffix dropped; null for anything else. */
function lidFrom(value: unknown): string | null {
  if (typeof value !== 'string') return null;
  const match = /^(\d+)(?::\d+)?@lid$/i.exec(value.trim());
  return match && match[1]!.length <= MAX_LID_DIGITS ? `${match[1]}@lid` : null;
}

function firstOf<T>(values: readonly unknown[], pick: (value: unknown) => T | null): T | null {
  for (const value of values) {
    const picked = pick(value);
    if (picked !== null) return picked;
  }
  return null;
}

function jidServer(jid: string): string {
  const at = jid.lastIndexOf('@');
  return at === -1 ? '' : jid.slice(at + 1).toLowerCase();
}

/**
 * Who the message belongs to. Groups: the participant fields. Direct chats: the other party, so for incoming
 * messages the sender fields, and for `fromMe` messages only the chat JID and its alternate (the sender fields
 * would then be the business's own number).
 */
function identify(key: Dict, chatJid: string, isGroup: boolean, fromMe: boolean) {
  if (isGroup) {
    const phone = firstOf(
      [
        key.cleanedParticipantPn,
        key.cleanParticipantPn,
        key.participantPn,
        key.participant,
        key.participantAlt,
      ],
      phoneFrom,
    );
    const lid = firstOf([key.participantLid, key.participant, key.participantAlt], lidFrom);
    return { phone, lid };
  }
  const chatPhone = jidServer(chatJid) === 's.whatsapp.net' || jidServer(chatJid) === 'c.us' ? chatJid : null;
  const chatLid = jidServer(chatJid) === 'lid' ? chatJid : null;
  const phoneSources = fromMe
    ? [chatPhone, key.remoteJidAlt]
    : [key.cleanedSenderPn, key.senderPn, key.remoteJidAlt, chatPhone];
  const lidSources = fromMe ? [chatLid, key.remoteJidAlt] : [chatLid, key.senderLid, key.remoteJidAlt];
  return { phone: firstOf(phoneSources, phoneFrom), lid: firstOf(lidSources, lidFrom) };
}

// ---------------------------------------------------------------------------------------------------------
// Locating entries inside `data`.

interface Located {
  path: string;
  value: unknown;
}

/**
 * Entries of `data`: each element when it is an array; the content of `data.messages` (object or array) when
 * present; otherwise `data` itself.
 */
function locateEntries(data: unknown, requiredKey: string): Located[] {
  if (Array.isArray(data)) return data.map((value, i) => ({ path: `data[${i}]`, value }));
  if (!isDict(data)) {
    throw new MalformedError(`data: expected an object or an array, received ${describeValue(data)}`);
  }
  const messages = data.messages;
  if (messages !== undefined && messages !== null) {
    if (Array.isArray(messages)) return messages.map((value, i) => ({ path: `data.messages[${i}]`, value }));
    if (isDict(messages)) return [{ path: 'data.messages', value: messages }];
    throw new MalformedError(
      `data.messages: expected an object or an array, received ${describeValue(messages)}`,
    );
  }
  if (!(requiredKey in data)) {
    throw new MalformedError(`data: expected data.messages or a message with data.${requiredKey}`);
  }
  return [{ path: 'data', value: data }];
}

function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  return typeof value;
}

// ---------------------------------------------------------------------------------------------------------
// Per-event parsing.

function parseMessage(entry: Located, fallbackTime: Date): WebhookMessageItem {
  const m = parseWith(messageSchema, entry.value, entry.path);
  const key = m.key;
  const providerId = messageId(key.id, `${entry.path}.key.id`);
  const chatJid = cut(cleanString(key.remoteJid).trim(), MAX_ID_CHARS);
  const server = jidServer(chatJid);
  const isGroup = server === 'g.us';
  const isBroadcast = server === 'broadcast';
  const isNewsletter = server === 'newsletter';
  const fromMe = key.fromMe === true;
  const { phone, lid } =
    isBroadcast || isNewsletter ? identifyBroadcast(key) : identify(key, chatJid, isGroup, fromMe);
  const raw = extractText(m);
  const text = raw === null ? null : boundText(raw);
  const { type, isProtocol } = classify(m.message ?? null, raw, m.messageStubType);
  const inner = m.message ? unwrapContent(m.message) : null;
  const media = inner && !isProtocol ? mediaOf(inner, key.id) : null;
  const card = inner && !isProtocol ? cardOf(inner) : null;
  return {
    kind: 'message',
    providerId,
    chatJid,
    phone,
    lid,
    fromMe,
    pushName: boundName(nonEmptyString(m.pushName)),
    type,
    text,
    timestamp: toTimestamp(m.messageTimestamp) ?? fallbackTime,
    isGroup,
    isBroadcast,
    isNewsletter,
    isProtocol,
    ...(media ? { media } : {}),
    ...(card ? { card } : {}),
  };
}

const MEDIA_KEYS: ReadonlyArray<readonly [string, InboundMediaRef['kind']]> = [
  ['imageMessage', 'image'],
  ['videoMessage', 'video'],
  ['ptvMessage', 'video'],
  ['audioMessage', 'audio'],
  ['pttMessage', 'audio'],
  ['documentMessage', 'document'],
  ['stickerMessage', 'sticker'],
];

function positiveInt(value: unknown): number | null {
  const n = typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : value;
  if (typeof n === 'number' && Number.isSafeInteger(n) && n >= 0) return n;
  // protobuf Long as { low, high }
  if (isDict(n) && typeof n.low === 'number' && typeof n.high === 'number') {
    const v = n.high * 2 ** 32 + (n.low >>> 0);
    return Number.isSafeInteger(v) ? v : null;
  }
  return null;
}

/**
 * The attachment of a media message. The handle is what WaSender's decrypt-media endpoint takes:
 * the message key id and the one media object under `message` (`{ key: { id }, message: { imageMessage } }`).
 */
function mediaOf(content: Dict, id: string): InboundMediaRef | null {
  for (const [key, kind] of MEDIA_KEYS) {
    const obj = content[key];
    if (!isDict(obj)) continue;
    const sanitized = sanitizeJson(obj) as Dict;
    // WaSender's decrypt endpoint names the voice-note object `audioMessage` (with `ptt: true`).
    const handleKey = key === 'pttMessage' ? 'audioMessage' : key === 'ptvMessage' ? 'videoMessage' : key;
    const mime = nonEmptyString(obj.mimetype);
    return {
      kind,
      mimeType: mime ? cut(cleanString(mime).split(';')[0]!.trim().toLowerCase(), 100) || null : null,
      fileName: boundName(nonEmptyString(obj.fileName) ?? nonEmptyString(obj.title)),
      caption: nonEmptyString(obj.caption) === null ? null : boundText(obj.caption as string),
      declaredBytes: positiveInt(obj.fileLength),
      voice: key === 'pttMessage' || (kind === 'audio' && obj.ptt === true),
      handle: { key: { id }, message: { [handleKey]: sanitized } },
    };
  }
  return null;
}

function finiteNumber(value: unknown): number | null {
  const n = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
  return typeof n === 'number' && Number.isFinite(n) ? n : null;
}

const VCARD_TEL = /^(?:item\d+\.)?TEL[^:]*:(.+)$/gim;
const MAX_VCARD_CHARS = 8192;

function contactOf(obj: Dict) {
  const vcard = nonEmptyString(obj.vcard);
  const phones = vcard
    ? [...vcard.matchAll(VCARD_TEL)]
        .map((m) => m[1]!.trim())
        .filter(Boolean)
        .slice(0, 20)
    : [];
  return {
    name: boundName(nonEmptyString(obj.displayName)),
    vcard: vcard ? cut(cleanString(vcard), MAX_VCARD_CHARS) : null,
    phones: phones.map((p) => cut(cleanString(p), 64)),
  };
}

/** A location or a contact card, as data; null for any other message. */
function cardOf(content: Dict): MessageCard | null {
  const loc = isDict(content.locationMessage)
    ? content.locationMessage
    : isDict(content.liveLocationMessage)
      ? content.liveLocationMessage
      : null;
  if (loc) {
    const latitude = finiteNumber(loc.degreesLatitude);
    const longitude = finiteNumber(loc.degreesLongitude);
    if (latitude === null || longitude === null || Math.abs(latitude) > 90 || Math.abs(longitude) > 180)
      return null;
    return {
      kind: 'location',
      latitude,
      longitude,
      name: boundName(nonEmptyString(loc.name)),
      address: boundName(nonEmptyString(loc.address)),
    };
  }
  if (isDict(content.contactMessage))
    return { kind: 'contacts', contacts: [contactOf(content.contactMessage)] };
  const arr = content.contactsArrayMessage;
  if (isDict(arr) && Array.isArray(arr.contacts)) {
    const contacts = arr.contacts.filter(isDict).slice(0, 20).map(contactOf);
    return contacts.length ? { kind: 'contacts', contacts } : null;
  }
  return null;
}

/** Status posts and channels: the poster is in the participant fields, as in groups. */
function identifyBroadcast(key: Dict) {
  return identify(key, '', true, false);
}

function errorText(...sources: unknown[]): string | null {
  for (const source of sources) {
    const text = nonEmptyString(source);
    if (text !== null) return cut(cleanString(text), 500);
    if (isDict(source)) {
      const message = nonEmptyString(source.message);
      if (message !== null) return cut(cleanString(message), 500);
    }
    if (Array.isArray(source)) {
      const parts = source.filter((s): s is string => typeof s === 'string' && s.trim() !== '');
      if (parts.length > 0) return cut(cleanString(parts.join('; ')), 500);
    }
  }
  return null;
}

function parseUpdate(entry: Located): WebhookStatusItem | null {
  const u = parseWith(updateEntrySchema, entry.value, entry.path);
  const raw = u.update?.status ?? u.status;
  if (raw === undefined || raw === null) return null; // edits, reactions, stars: not a delivery status
  const status = mapStatus(raw);
  if (status === null) return null;
  return {
    kind: 'status',
    providerId: messageId(u.key.id, `${entry.path}.key.id`),
    status,
    error:
      status === 'failed'
        ? errorText(u.update?.error, u.error, u.update?.messageStubParameters, u.messageStubParameters)
        : null,
    msgId: msgIdFrom(u.msgId),
  };
}

function parseReceipt(entry: Located): WebhookStatusItem | null {
  // The documented shape nests the receipt as `{ message: { key, receipt } }`; Baileys sends `{ key, receipt }`.
  const value =
    isDict(entry.value) && isDict(entry.value.message) && !('key' in entry.value)
      ? { path: `${entry.path}.message`, value: entry.value.message }
      : entry;
  const r = parseWith(receiptEntrySchema, value.value, value.path);
  const explicit = r.update?.status ?? r.status;
  let status: DeliveryStatus | null = null;
  if (explicit !== undefined && explicit !== null) status = mapStatus(explicit);
  else if (r.receipt) {
    const receipt = r.receipt;
    const has = (k: string) => receipt[k] !== undefined && receipt[k] !== null;
    if (has('playedTimestamp')) status = 'played';
    else if (has('readTimestamp')) status = 'read';
    else if (has('receiptTimestamp')) status = 'delivered';
    else status = mapStatus(receipt.type ?? receipt.status);
  }
  if (status === null) return null;
  return {
    kind: 'status',
    providerId: messageId(r.key.id, `${value.path}.key.id`),
    status,
    error: null,
    msgId: msgIdFrom(r.msgId),
  };
}

/** WaSender's own message id; null when absent or too long to be one. */
function msgIdFrom(value: unknown): string | null {
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  const id = nonEmptyString(value) === null ? '' : cleanString(value as string).trim();
  return id === '' || id.length > MAX_ID_CHARS ? null : id;
}

function parseSent(entry: Located, data: unknown): WebhookStatusItem {
  const s = parseWith(sentEntrySchema, entry.value, entry.path);
  const fallbackMsgId = isDict(data) ? data.msgId : undefined;
  return {
    kind: 'status',
    providerId: messageId(s.key.id, `${entry.path}.key.id`),
    status: 'sent',
    error: null,
    msgId: msgIdFrom(s.msgId) ?? msgIdFrom(fallbackMsgId),
  };
}

/** The entries' items; an entry that cannot be parsed becomes a rejected item, the others are unaffected. */
function parseEntries(
  event: string,
  located: Located[],
  parse: (entry: Located) => WebhookItem | null,
  rawData: (entry: Located) => unknown = (entry) => entry.value,
): WebhookItem[] {
  const items: WebhookItem[] = [];
  for (const entry of located) {
    let item: WebhookItem | null;
    try {
      item = parse(entry);
    } catch (error) {
      const reason = error instanceof MalformedError ? error.message : `${entry.path}: could not be parsed`;
      items.push(rejectedItem(event, entry, reason));
      continue;
    }
    if (item === null) continue;
    rawEntries.set(item, { event, data: rawData(entry) });
    items.push(item);
  }
  return items;
}

/** The raw entry each parsed item came from (kept out of the item itself, unsanitised until needed). */
const rawEntries = new WeakMap<WebhookItem, RawEntry>();

/**
 * The entry an item was parsed from, as a one-entry webhook body made storable (see `sanitizeJson`),
 * for a dead letter. Null for items not made by `parseWebhook`.
 */
export function rawEntryOf(item: WebhookItem): RawEntry | null {
  if (item.kind === 'rejected') return item.raw;
  const raw = rawEntries.get(item);
  return raw ? { event: raw.event, data: sanitizeJson(raw.data) } : null;
}

function rejectedItem(event: string, entry: Located, reason: string): WebhookRejectedItem {
  let providerId: string | null = null;
  let data: unknown = null;
  try {
    const value = entry.value;
    const key = isDict(value)
      ? isDict(value.key)
        ? value.key
        : isDict(value.message)
          ? value.message.key
          : null
      : null;
    const id = isDict(key) && typeof key.id === 'string' ? cleanString(key.id).trim() : '';
    providerId = id === '' ? null : cut(id, MAX_ID_CHARS);
    data = sanitizeJson(value);
  } catch {
    // An entry that cannot even be read is kept as null, with the reason.
  }
  return { kind: 'rejected', reason, providerId, raw: { event, data } };
}

function parseItems(event: string, data: unknown, fallbackTime: Date): WebhookItem[] {
  if ((MESSAGE_EVENTS as readonly string[]).includes(event)) {
    return parseEntries(event, locateEntries(data, 'key'), (entry) => parseMessage(entry, fallbackTime));
  }
  if (event === 'messages.update') {
    return parseEntries(event, locateEntries(data, 'key'), parseUpdate);
  }
  if (event === 'message-receipt.update') {
    const located =
      isDict(data) && isDict(data.message) && !('messages' in data)
        ? [{ path: 'data', value: data }]
        : locateEntries(data, 'key');
    return parseEntries(event, located, parseReceipt);
  }
  if (event === 'message.sent') {
    const fallbackMsgId = isDict(data) ? data.msgId : undefined;
    return parseEntries(
      event,
      locateEntries(data, 'key'),
      (entry) => parseSent(entry, data),
      (entry) =>
        isDict(entry.value) && entry.value.msgId == null && fallbackMsgId != null
          ? { ...entry.value, msgId: fallbackMsgId }
          : entry.value,
    );
  }
  if (event === 'session.status') {
    const session = parseWith(sessionDataSchema, data, 'data');
    const status = boundName(session.status);
    if (status === null) throw new MalformedError('data.status: must be a non-empty string');
    return [{ kind: 'session', status }];
  }
  return [];
}

/**
 * Parses a WaSender webhook body. Never throws: a malformed body (not an object, no event, `data` of the
 * wrong shape) gives `{ ok: false, error }` where the error names the offending field; a malformed entry
 * of a well-formed body gives a `rejected` item naming the field, beside the other entries' items.
 * Unknown events give `{ ok: true, items: [] }`. Every string is made storable (no NUL, no lone
 * surrogate) and bounded (see the limits above).
 */
export function parseWebhook(body: unknown, options: ParseOptions = {}): ParsedWebhook {
  try {
    if (!isDict(body))
      return { ok: false, error: `body: expected a JSON object, received ${describeValue(body)}` };
    const envelope = envelopeSchema.safeParse(body);
    if (!envelope.success) return { ok: false, error: describeZodError('', envelope.error) };
    const { data, timestamp } = envelope.data;
    const event = cut(cleanString(envelope.data.event), MAX_NAME_CHARS);
    const fallbackTime = toTimestamp(timestamp) ?? options.now ?? new Date();
    return { ok: true, event, items: parseItems(event, data, fallbackTime) };
  } catch (error) {
    if (error instanceof MalformedError) return { ok: false, error: error.message };
    return { ok: false, error: 'body: could not be parsed' };
  }
}
