import { randomBytes } from 'node:crypto';

/**
 * WaSender webhook bodies as the gateway posts them to `/webhook`, for the tests, `npm run simulate`
 * and the bench. One builder per shape the server's parser accepts (server/pipeline/payload.ts):
 * `messages.upsert` with a text (`conversation`), an `extendedTextMessage`, media or any other content,
 * a customer writing under a LID, the business's own messages (`fromMe`) echoed back, several messages
 * in one body, `messages.update` status changes, `message-receipt.update` receipts, `message.sent` and
 * `session.status`. The bodies are plain JSON values; nothing here imports the server.
 *
 * It lives under scripts/ rather than tests/ because `npm run simulate` and the bench use it outside
 * the test runner; tests import it from here (scripts/ may be imported by tests, never by the server).
 */

/** The header WaSender puts its webhook secret in; the server compares it with WASENDER_WEBHOOK_SECRET. */
export const SIGNATURE_HEADER = 'x-webhook-signature';

/** Headers of a webhook post: JSON, signed with `secret` (unsigned when it is null). */
export function webhookHeaders(secret: string | null): Record<string, string> {
  return { 'content-type': 'application/json', ...(secret === null ? {} : { [SIGNATURE_HEADER]: secret }) };
}

/** A WhatsApp-like message id (`3EB0` and 16 hex digits), new on every call. */
export const newMessageId = () => `3EB0${randomBytes(8).toString('hex').toUpperCase()}`;

/** The chat JID of a phone number given as digits (no `+`). */
export const phoneJid = (phone: string) => `${phone}@s.whatsapp.net`;

/** Unix seconds now, as WhatsApp's `messageTimestamp`. */
export const unixSeconds = () => Math.floor(Date.now() / 1000);

export type MessageContent = Record<string, unknown>;

/** Message contents (the `message` field of a `messages.upsert` entry). */
export const content = {
  /** A plain text message. */
  text: (text: string | undefined): MessageContent => ({ conversation: text }),
  /** A text with a link preview, a quote or formatting. */
  extendedText: (text: string): MessageContent => ({ extendedTextMessage: { text } }),
  /** A photo, with a caption or none. */
  image: (p: { url?: string; mimetype?: string; caption?: string } = {}): MessageContent => ({
    imageMessage: {
      url: p.url ?? 'https://mmg.whatsapp.net/sim.enc',
      mimetype: p.mimetype ?? 'image/jpeg',
      caption: p.caption,
    },
  }),
} as const;

export interface MessageKey {
  id: string;
  fromMe: boolean;
  remoteJid: string;
  senderPn?: string;
  cleanedSenderPn?: string;
  [field: string]: unknown;
}

export interface UpsertEntry {
  key: MessageKey;
  pushName?: string | null;
  messageTimestamp?: unknown;
  message?: MessageContent | null;
  messageBody?: string | null;
  [field: string]: unknown;
}

export interface MessageOptions {
  /** The customer's phone number, digits only (not needed when `jid` names the chat). */
  phone?: string;
  /** The message id; a new one by default. */
  id?: string;
  /** True for the business's own messages (sent from the phone or the gateway), echoed back. */
  fromMe?: boolean;
  /** The customer writes under this `...@lid` JID; their phone comes in `senderPn`/`cleanedSenderPn`. */
  lid?: string;
  /** The chat JID, when it is neither the phone's nor the LID (a group, a broadcast). */
  jid?: string;
  /** The profile name; `null` leaves the field out. */
  pushName?: string | null;
  /** `messageTimestamp`; Unix seconds now by default; `null` leaves the field out. */
  timestamp?: unknown;
  /** The content; `text` gives `{ conversation: text }`. */
  message?: MessageContent | null;
  text?: string;
  /** Fields added to the key (`participant`, `senderLid`, ...). */
  key?: Record<string, unknown>;
}

/** The key of a message in a direct chat with `phone` (or under `lid`, with the phone beside it). */
export function messageKey(p: Pick<MessageOptions, 'phone' | 'id' | 'fromMe' | 'lid' | 'jid' | 'key'>) {
  const key: MessageKey = {
    id: p.id ?? newMessageId(),
    fromMe: p.fromMe ?? false,
    remoteJid: p.jid ?? p.lid ?? phoneJid(required(p.phone)),
  };
  if (p.lid && p.phone) {
    key.senderPn = phoneJid(p.phone);
    key.cleanedSenderPn = p.phone;
  }
  return Object.assign(key, p.key);
}

function required(phone: string | undefined): string {
  if (phone === undefined) throw new TypeError('a message needs a phone or a jid');
  return phone;
}

/** One entry of a `messages.upsert` (a message as WaSender delivers it). */
export function upsertEntry(p: MessageOptions & { defaultPushName?: string }): UpsertEntry {
  const pushName = p.pushName === undefined ? (p.defaultPushName ?? 'Customer') : p.pushName;
  return {
    key: messageKey(p),
    ...(pushName === null ? {} : { pushName }),
    ...(p.timestamp === null ? {} : { messageTimestamp: p.timestamp ?? unixSeconds() }),
    message: p.message === undefined ? content.text(p.text) : p.message,
  };
}

export interface Webhook<E extends string = string, D = unknown> {
  event: E;
  /** Milliseconds; the parser falls back to it when a message has no usable `messageTimestamp`. */
  timestamp?: number;
  data: D;
}

/**
 * A `messages.upsert` body: one entry (`data.messages` an object, as WaSender sends a single message)
 * or several (`data.messages` an array: a batch).
 */
export function messagesUpsert<M extends UpsertEntry | UpsertEntry[]>(
  messages: M,
  p: { timestamp?: number | null } = {},
): Webhook<'messages.upsert', { messages: M }> {
  const timestamp = p.timestamp === undefined ? Date.now() : p.timestamp;
  return {
    event: 'messages.upsert',
    ...(timestamp === null ? {} : { timestamp }),
    data: { messages },
  } as Webhook<'messages.upsert', { messages: M }>;
}

/** A `messages.upsert` for one direct text message (the most common webhook). */
export function textWebhook(p: MessageOptions & { phone: string; text: string }) {
  return messagesUpsert(upsertEntry(p));
}

/** The same, serialised: the bench posts the bodies as strings. */
export function textWebhookJson(p: MessageOptions & { phone: string; text: string }): string {
  return JSON.stringify(textWebhook(p));
}

/**
 * A `messages.update` changing the delivery status of the business's message `id`: a number 0-5
 * (0 failed … 4 read, 5 played) or a name such as `DELIVERY_ACK`.
 */
export function statusWebhook(
  id: string,
  status: number | string,
  p: { phone?: string; msgId?: number | string } = {},
) {
  const remoteJid = phoneJid(p.phone ?? '0');
  return {
    event: 'messages.update' as const,
    timestamp: Date.now(),
    data: {
      key: { id, fromMe: true, remoteJid },
      update: { status },
      ...(p.msgId === undefined ? {} : { msgId: p.msgId }),
    },
  };
}

/** A `message-receipt.update` in Baileys' shape (`{ key, receipt }`): delivered, read or played. */
export function receiptWebhook(
  id: string,
  receipt: 'delivered' | 'read' | 'played',
  p: { phone?: string; at?: number } = {},
) {
  const at = p.at ?? unixSeconds();
  const field = { delivered: 'receiptTimestamp', read: 'readTimestamp', played: 'playedTimestamp' }[receipt];
  return {
    event: 'message-receipt.update' as const,
    timestamp: Date.now(),
    data: { key: { id, fromMe: true, remoteJid: phoneJid(p.phone ?? '0') }, receipt: { [field]: at } },
  };
}

/** A `message.sent`: WaSender's own numeric `msgId` linked to the WhatsApp id of a message it sent. */
export function messageSentWebhook(id: string, msgId: number | string, p: { phone?: string } = {}) {
  return {
    event: 'message.sent' as const,
    timestamp: Date.now(),
    data: { key: { id, fromMe: true, remoteJid: phoneJid(p.phone ?? '0') }, msgId },
  };
}

/** A `session.status`: the gateway's WhatsApp session changed state (`connected`, `logged_out`, ...). */
export function sessionStatusWebhook(status: string) {
  return { event: 'session.status' as const, timestamp: Date.now(), data: { status } };
}
