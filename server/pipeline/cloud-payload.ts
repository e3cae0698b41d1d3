import type { InboundMediaRef, MediaKind } from '../integrations/gateway';
import {
  boundText,
  cleanString,
  type DeliveryStatus,
  MAX_ID_CHARS,
  MAX_NAME_CHARS,
  type MessageType,
  type ParsedWebhook,
  type ParseOptions,
  type RawEntry,
  sanitizeJson,
  toTimestamp,
  type WebhookItem,
  type WebhookMessageItem,
  type WebhookRejectedItem,
  type WebhookStatusItem,
} from './payload';

/**
 * Meta's WhatsApp Cloud API webhook bodies → the same normalised items as WaSender's (payload.ts), so
 * one pipeline stores them: `{ object: 'whatsapp_business_account', entry: [{ changes: [{ field:
 * 'messages', value: { metadata, contacts, messages, statuses, errors } }] }] }`.
 *
 * - messages: text, interactive and button replies (their titles as text), media (image, audio,
 *   video, document, sticker: a `media` reference `{ id }` the Cloud client downloads, the caption as
 *   text), location, contacts, reactions; `contacts[].profile.name` of the same `wa_id` is the push name.
 * - statuses: sent, delivered, read, failed (with Meta's error code and title as the error text).
 * - errors (system or account problems with no message): logged by the caller as dead letters.
 *
 * Each message and status is its own entry: one that cannot be handled becomes a rejected item (a dead
 * letter whose raw body is a one-entry Cloud webhook, so a retry parses it again); the others are
 * unaffected. Strings are made storable and bounded as WaSender's are.
 */

/** The event name of Cloud items (raw entries of dead letters carry it, so a retry picks this parser). */
export const CLOUD_EVENT = 'whatsapp-cloud';

type Dict = Record<string, unknown>;

function isDict(value: unknown): value is Dict {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function str(value: unknown): string | null {
  return typeof value === 'string' && value.trim() !== '' ? value : null;
}

function boundName(value: unknown): string | null {
  const s = str(value);
  if (s === null) return null;
  const clean = cleanString(s).trim().slice(0, MAX_NAME_CHARS).trim();
  return clean === '' ? null : clean;
}

class Malformed extends Error {}

function messageId(value: unknown, path: string): string {
  if (typeof value !== 'string') throw new Malformed(`${path}: must be a non-empty string`);
  const id = cleanString(value).trim();
  if (id === '') throw new Malformed(`${path}: must be a non-empty string`);
  if (id.length > MAX_ID_CHARS) {
    throw new Malformed(
      `${path}: is ${id.length} characters long, more than the ${MAX_ID_CHARS} a message id may have`,
    );
  }
  return id;
}

/** A WhatsApp id (`wa_id`, `from`): the number's digits. */
function waDigits(value: unknown, path: string): string {
  const s = typeof value === 'string' ? value.trim().replace(/^\+/, '') : '';
  if (!/^\d{6,15}$/.test(s)) throw new Malformed(`${path}: expected the sender's number (6-15 digits)`);
  return s;
}

const MEDIA_KINDS: readonly MediaKind[] = ['image', 'audio', 'video', 'document', 'sticker'];

function mediaRef(kind: MediaKind, m: Dict, path: string): InboundMediaRef {
  const id = str(m.id);
  if (id === null || id.length > MAX_ID_CHARS || !/^[\w.-]+$/.test(id)) {
    throw new Malformed(`${path}.id: expected the media id`);
  }
  const caption = str(m.caption);
  return {
    kind,
    mimeType: boundName(m.mime_type),
    fileName: boundName(m.filename),
    caption: caption === null ? null : boundText(caption),
    declaredBytes: null,
    voice: kind === 'audio' && m.voice === true,
    handle: { id },
  };
}

function textOf(m: Dict, type: string): { type: MessageType; text: string | null; media?: InboundMediaRef } {
  const path = `message.${type}`;
  const body = isDict(m[type]) ? (m[type] as Dict) : null;
  switch (type) {
    case 'text':
      return { type: 'text', text: str(body?.body) };
    case 'interactive': {
      const reply =
        body &&
        (isDict(body.button_reply) ? body.button_reply : isDict(body.list_reply) ? body.list_reply : null);
      const title = reply ? str(reply.title) : null;
      const description = reply ? str(reply.description) : null;
      return {
        type: 'text',
        text: title === null ? null : description ? `${title} (${description})` : title,
      };
    }
    case 'button':
      return { type: 'text', text: str(body?.text) ?? str(body?.payload) };
    case 'location': {
      if (!body) return { type: 'location', text: null };
      const parts = [str(body.name), str(body.address)].filter((p): p is string => p !== null);
      const lat = typeof body.latitude === 'number' ? body.latitude : null;
      const lon = typeof body.longitude === 'number' ? body.longitude : null;
      if (lat !== null && lon !== null) parts.push(`(${lat}, ${lon})`);
      return { type: 'location', text: parts.length ? parts.join(' ') : null };
    }
    case 'contacts': {
      const list = Array.isArray(m.contacts) ? m.contacts : [];
      const names = list
        .map((c) => {
          if (!isDict(c)) return null;
          const name = isDict(c.name) ? str(c.name.formatted_name) : null;
          const phones = Array.isArray(c.phones)
            ? c.phones.map((p) => (isDict(p) ? str(p.phone) : null)).filter((p): p is string => p !== null)
            : [];
          return [name, ...phones].filter(Boolean).join(' ');
        })
        .filter((s): s is string => !!s);
      return { type: 'contact', text: names.length ? names.join('; ') : null };
    }
    case 'reaction':
      return { type: 'reaction', text: str(body?.emoji) };
    default:
      if ((MEDIA_KINDS as readonly string[]).includes(type)) {
        if (!body) throw new Malformed(`${path}: expected an object`);
        const media = mediaRef(type as MediaKind, body, path);
        return { type: type as MessageType, text: media.caption, media };
      }
      return { type: 'other', text: null };
  }
}

function parseMessage(m: unknown, names: Map<string, string>, path: string, now: Date): WebhookMessageItem {
  if (!isDict(m)) throw new Malformed(`${path}: expected an object`);
  const providerId = messageId(m.id, `${path}.id`);
  const phone = waDigits(m.from, `${path}.from`);
  const type = typeof m.type === 'string' ? m.type : 'unknown';
  const { type: kind, text, media } = textOf(m, type);
  const item: WebhookMessageItem = {
    kind: 'message',
    providerId,
    chatJid: `${phone}@s.whatsapp.net`,
    phone,
    lid: null,
    fromMe: false,
    pushName: names.get(phone) ?? null,
    type: kind,
    text: text === null ? null : boundText(text),
    timestamp: toTimestamp(m.timestamp) ?? now,
    isGroup: false,
    isBroadcast: false,
    isNewsletter: false,
    // Meta's system notices (a number change) are not a message a person wrote.
    isProtocol: type === 'system' || type === 'unsupported' || (type === 'reaction' && text === null),
    channel: 'whatsapp-cloud',
  };
  if (media) item.media = media;
  return item;
}

const STATUS: Readonly<Record<string, DeliveryStatus>> = {
  sent: 'sent',
  delivered: 'delivered',
  read: 'read',
  failed: 'failed',
};

function errorsText(errors: unknown): string | null {
  if (!Array.isArray(errors)) return null;
  const parts = errors
    .map((e) => {
      if (!isDict(e)) return null;
      const code = typeof e.code === 'number' ? e.code : null;
      const title = str(e.title) ?? str(e.message);
      const details = isDict(e.error_data) ? str(e.error_data.details) : null;
      const text = [title, details].filter(Boolean).join(': ');
      return code === null ? text || null : `${text || 'error'} (Meta error ${code})`;
    })
    .filter((s): s is string => !!s);
  return parts.length ? cleanString(parts.join('; ')).slice(0, 500) : null;
}

function parseStatus(s: unknown, path: string): WebhookStatusItem | null {
  if (!isDict(s)) throw new Malformed(`${path}: expected an object`);
  const providerId = messageId(s.id, `${path}.id`);
  const status = typeof s.status === 'string' ? STATUS[s.status.toLowerCase()] : undefined;
  if (!status) return null; // `deleted`, `warning` and future values: not a delivery status
  return {
    kind: 'status',
    providerId,
    status,
    error: status === 'failed' ? (errorsText(s.errors) ?? 'failed (no reason given by Meta)') : null,
    // The Cloud API's send answer names the message by this same id (stored as the gateway's id).
    msgId: providerId,
  };
}

/** A one-entry Cloud webhook for a dead letter or a retry: the value with only this message or status. */
function oneEntry(value: Dict, key: 'messages' | 'statuses' | 'errors', entry: unknown): RawEntry {
  const { messages: _m, statuses: _s, errors: _e, ...rest } = value;
  return {
    event: CLOUD_EVENT,
    data: {
      object: 'whatsapp_business_account',
      entry: [{ changes: [{ field: 'messages', value: { ...rest, [key]: [entry] } }] }],
    },
  };
}

const rawEntries = new WeakMap<WebhookItem, RawEntry>();

/** The one-entry webhook an item came from, made storable; null for items this parser did not make. */
export function cloudRawEntryOf(item: WebhookItem): RawEntry | null {
  if (item.kind === 'rejected') return item.raw;
  const raw = rawEntries.get(item);
  return raw ? { event: raw.event, data: sanitizeJson(raw.data) } : null;
}

function rejected(reason: string, raw: RawEntry, entry: unknown): WebhookRejectedItem {
  const id =
    isDict(entry) && typeof entry.id === 'string' ? cleanString(entry.id).trim().slice(0, MAX_ID_CHARS) : '';
  return {
    kind: 'rejected',
    reason,
    providerId: id === '' ? null : id,
    raw: { event: raw.event, data: sanitizeJson(raw.data) },
  };
}

/**
 * Parses a Cloud API webhook body. Never throws: a body that is not a WhatsApp Business Account
 * webhook gives `{ ok: false, error }`; a malformed message or status of a good body gives a
 * rejected item (dead letter) beside the others. Fields other than `messages` give no items.
 */
export function parseCloudWebhook(body: unknown, options: ParseOptions = {}): ParsedWebhook {
  const now = options.now ?? new Date();
  if (!isDict(body)) return { ok: false, error: 'body: expected a JSON object' };
  if (body.object !== 'whatsapp_business_account') {
    return { ok: false, error: "object: expected 'whatsapp_business_account'" };
  }
  if (!Array.isArray(body.entry)) return { ok: false, error: 'entry: expected an array' };
  const items: WebhookItem[] = [];
  body.entry.forEach((entry, e) => {
    const changes = isDict(entry) && Array.isArray(entry.changes) ? entry.changes : null;
    if (!changes) {
      items.push(
        rejected(
          `entry[${e}].changes: expected an array`,
          { event: CLOUD_EVENT, data: { object: body.object, entry: [entry] } },
          null,
        ),
      );
      return;
    }
    changes.forEach((change, c) => {
      const base = `entry[${e}].changes[${c}]`;
      if (!isDict(change) || change.field !== 'messages') return;
      const value = isDict(change.value) ? change.value : null;
      if (!value) {
        items.push(
          rejected(
            `${base}.value: expected an object`,
            { event: CLOUD_EVENT, data: { object: body.object, entry: [{ changes: [change] }] } },
            null,
          ),
        );
        return;
      }
      const names = new Map<string, string>();
      for (const contact of Array.isArray(value.contacts) ? value.contacts : []) {
        if (!isDict(contact) || typeof contact.wa_id !== 'string') continue;
        const name = isDict(contact.profile) ? boundName(contact.profile.name) : null;
        if (name) names.set(contact.wa_id.replace(/^\+/, ''), name);
      }
      const each = (
        key: 'messages' | 'statuses',
        parse: (v: unknown, path: string) => WebhookItem | null,
      ) => {
        const list = value[key];
        if (list === undefined || list === null) return;
        if (!Array.isArray(list)) {
          items.push(rejected(`${base}.value.${key}: expected an array`, oneEntry(value, key, list), null));
          return;
        }
        list.forEach((v, i) => {
          const path = `${base}.value.${key}[${i}]`;
          const raw = oneEntry(value, key, v);
          let item: WebhookItem | null;
          try {
            item = parse(v, path);
          } catch (error) {
            items.push(
              rejected(error instanceof Malformed ? error.message : `${path}: could not be parsed`, raw, v),
            );
            return;
          }
          if (item === null) return;
          rawEntries.set(item, raw);
          items.push(item);
        });
      };
      each('messages', (v, path) => parseMessage(v, names, path, now));
      each('statuses', parseStatus);
      if (Array.isArray(value.errors) && value.errors.length > 0) {
        const text = errorsText(value.errors) ?? 'an error without a description';
        items.push(
          rejected(
            `${base}.value.errors: Meta reported ${text}`,
            oneEntry(value, 'errors', value.errors[0]),
            null,
          ),
        );
      }
    });
  });
  return { ok: true, event: CLOUD_EVENT, items };
}
