import { z } from 'zod';

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
}

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

export type WebhookItem = WebhookMessageItem | WebhookStatusItem | WebhookSessionItem;

export type ParsedWebhook = { ok: true; event: string; items: WebhookItem[] } | { ok: false; error: string };

export interface ParseOptions {
  /** Clock used when a message carries no usable timestamp. */
  now?: Date;
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
  return match ? `${match[1]}@lid` : null;
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
  const chatJid = key.remoteJid.trim();
  const server = jidServer(chatJid);
  const isGroup = server === 'g.us';
  const isBroadcast = server === 'broadcast';
  const isNewsletter = server === 'newsletter';
  const fromMe = key.fromMe === true;
  const { phone, lid } =
    isBroadcast || isNewsletter ? identifyBroadcast(key) : identify(key, chatJid, isGroup, fromMe);
  const text = extractText(m);
  const { type, isProtocol } = classify(m.message ?? null, text, m.messageStubType);
  return {
    kind: 'message',
    providerId: key.id,
    chatJid,
    phone,
    lid,
    fromMe,
    pushName: nonEmptyString(m.pushName)?.trim() ?? null,
    type,
    text,
    timestamp: toTimestamp(m.messageTimestamp) ?? fallbackTime,
    isGroup,
    isBroadcast,
    isNewsletter,
    isProtocol,
  };
}

/** Status posts and channels: the poster is in the participant fields, as in groups. */
function identifyBroadcast(key: Dict) {
  return identify(key, '', true, false);
}

function errorText(...sources: unknown[]): string | null {
  for (const source of sources) {
    const text = nonEmptyString(source);
    if (text !== null) return text.slice(0, 500);
    if (isDict(source)) {
      const message = nonEmptyString(source.message);
      if (message !== null) return message.slice(0, 500);
    }
    if (Array.isArray(source)) {
      const parts = source.filter((s): s is string => typeof s === 'string' && s.trim() !== '');
      if (parts.length > 0) return parts.join('; ').slice(0, 500);
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
    providerId: u.key.id,
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
  return { kind: 'status', providerId: r.key.id, status, error: null, msgId: msgIdFrom(r.msgId) };
}

function msgIdFrom(value: unknown): string | null {
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  return nonEmptyString(value)?.trim() ?? null;
}

function parseSent(entry: Located, data: unknown): WebhookStatusItem {
  const s = parseWith(sentEntrySchema, entry.value, entry.path);
  const fallbackMsgId = isDict(data) ? data.msgId : undefined;
  return {
    kind: 'status',
    providerId: s.key.id,
    status: 'sent',
    error: null,
    msgId: msgIdFrom(s.msgId) ?? msgIdFrom(fallbackMsgId),
  };
}

function parseItems(event: string, data: unknown, fallbackTime: Date): WebhookItem[] {
  if ((MESSAGE_EVENTS as readonly string[]).includes(event)) {
    return locateEntries(data, 'key').map((entry) => parseMessage(entry, fallbackTime));
  }
  if (event === 'messages.update') {
    return locateEntries(data, 'key').flatMap((entry) => parseUpdate(entry) ?? []);
  }
  if (event === 'message-receipt.update') {
    const located =
      isDict(data) && isDict(data.message) && !('messages' in data)
        ? [{ path: 'data', value: data }]
        : locateEntries(data, 'key');
    return located.flatMap((entry) => parseReceipt(entry) ?? []);
  }
  if (event === 'message.sent') {
    return locateEntries(data, 'key').map((entry) => parseSent(entry, data));
  }
  if (event === 'session.status') {
    const session = parseWith(sessionDataSchema, data, 'data');
    return [{ kind: 'session', status: session.status.trim() }];
  }
  return [];
}

/**
 * Parses a WaSender webhook body. Never throws: malformed input gives `{ ok: false, error }` where the error
 * names the offending field; unknown events give `{ ok: true, items: [] }`.
 */
export function parseWebhook(body: unknown, options: ParseOptions = {}): ParsedWebhook {
  try {
    if (!isDict(body))
      return { ok: false, error: `body: expected a JSON object, received ${describeValue(body)}` };
    const envelope = envelopeSchema.safeParse(body);
    if (!envelope.success) return { ok: false, error: describeZodError('', envelope.error) };
    const { event, data, timestamp } = envelope.data;
    const fallbackTime = toTimestamp(timestamp) ?? options.now ?? new Date();
    return { ok: true, event, items: parseItems(event, data, fallbackTime) };
  } catch (error) {
    if (error instanceof MalformedError) return { ok: false, error: error.message };
    return { ok: false, error: 'body: could not be parsed' };
  }
}
