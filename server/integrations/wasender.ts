import { sleep } from '../sleep';
import type { GatewayStatus } from './gateway';
import {
  type DownloadedMedia,
  type Gateway,
  type GatewayContact,
  type GatewayGroup,
  GatewayNotConfiguredError,
  GatewayRateLimitedError,
  GatewayRejectedError,
  GatewayTransientError,
  redact,
  type SendMediaInput,
  type SendOptions,
  type SendResult,
  type SendTextInput,
} from './gateway';

export interface WasenderGatewayOptions {
  /** e.g. `https://www.wasenderapi.com` (a trailing `/api` is accepted too). */
  baseUrl: string;
  /** The session API key; empty or missing means the gateway is not configured. */
  apiToken: string | null | undefined;
  /** Upper bound for one request, response body included. */
  timeoutMs: number;
  fetch?: typeof fetch;
}

const NAME = 'wasender';
const DEFAULT_RETRY_AFTER_MS = 60_000;
const MAX_REASON_LENGTH = 300;
const E164 = /^\+[1-9]\d{6,14}$/;

/** `POST …/api/send-message`, whether or not the configured base URL already ends in `/api`. */
export function wasenderSendUrl(baseUrl: string): string {
  const trimmed = baseUrl.trim().replace(/\/+$/, '');
  return /\/api$/i.test(trimmed) ? `${trimmed}/send-message` : `${trimmed}/api/send-message`;
}

/** `POST …/api/decrypt-media`, whether or not the configured base URL already ends in `/api`. */
export function wasenderApiUrl(baseUrl: string, path: string): string {
  const trimmed = baseUrl.trim().replace(/\/+$/, '');
  return /\/api$/i.test(trimmed) ? `${trimmed}/${path}` : `${trimmed}/api/${path}`;
}

/** The send-message field that carries each kind of media's URL. */
const MEDIA_URL_FIELD = {
  image: 'imageUrl',
  video: 'videoUrl',
  audio: 'audioUrl',
  document: 'documentUrl',
} as const;

type Json = Record<string, unknown>;

function isJsonObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A short, single-line description of a failed response: the provider's message plus any field errors. */
function describeFailure(status: number, statusText: string, json: Json | null): string {
  const parts: string[] = [];
  if (json) {
    if (typeof json.message === 'string' && json.message.trim() !== '') parts.push(json.message.trim());
    else if (isJsonObject(json.error) && typeof json.error.message === 'string')
      parts.push(json.error.message);
    else if (typeof json.error === 'string') parts.push(json.error);
    if (isJsonObject(json.errors)) {
      for (const [field, messages] of Object.entries(json.errors)) {
        const list = Array.isArray(messages) ? messages.filter((m) => typeof m === 'string') : [messages];
        parts.push(`${field}: ${list.map(String).join(' ')}`);
      }
    }
  }
  const text = parts.length > 0 ? parts.join('; ') : `HTTP ${status}${statusText ? ` ${statusText}` : ''}`;
  const oneLine = text.replace(/\s+/g, ' ').trim();
  return oneLine.length > MAX_REASON_LENGTH ? `${oneLine.slice(0, MAX_REASON_LENGTH - 1)}…` : oneLine;
}

function secondsToMs(value: unknown): number | null {
  const n =
    typeof value === 'number'
      ? value
      : typeof value === 'string' && value.trim() !== ''
        ? Number(value)
        : NaN;
  return Number.isFinite(n) && n >= 0 ? Math.ceil(n * 1000) : null;
}

/** `Retry-After` as delta seconds or an HTTP date. */
function retryAfterHeaderMs(header: string | null, now: number): number | null {
  if (header === null || header.trim() === '') return null;
  const seconds = secondsToMs(header);
  if (seconds !== null) return seconds;
  const date = Date.parse(header);
  return Number.isNaN(date) ? null : Math.max(0, date - now);
}

function msgIdFrom(json: Json | null): string | null {
  const data = json && isJsonObject(json.data) ? json.data : null;
  const id = data?.msgId;
  if (typeof id === 'number' && Number.isFinite(id)) return String(id);
  if (typeof id === 'string' && id.trim() !== '') return id.trim();
  return null;
}

function codeOf(value: unknown): string | null {
  return isJsonObject(value) && typeof value.code === 'string' ? value.code : null;
}

/** `ECONNRESET`, `UND_ERR_SOCKET`, ... from fetch's `TypeError: fetch failed` and its cause. */
function networkErrorCode(error: unknown): string {
  const cause = error instanceof Error ? error.cause : undefined;
  return codeOf(cause) ?? codeOf(error) ?? (error instanceof Error ? error.name : 'unknown');
}

/** A download refused because the file is larger than allowed (`declaredBytes`: the size the server announced). */
export class MediaTooLargeError extends GatewayRejectedError {
  readonly maxBytes: number;
  readonly declaredBytes: number | null;

  constructor(gateway: string, maxBytes: number, declaredBytes: number | null) {
    super(
      gateway,
      null,
      `file is larger than the ${maxBytes}-byte limit${declaredBytes === null ? '' : ` (${declaredBytes} bytes)`}`,
    );
    this.maxBytes = maxBytes;
    this.declaredBytes = declaredBytes;
  }
}

export function createWasenderGateway(options: WasenderGatewayOptions): Gateway {
  const token = options.apiToken?.trim() ?? '';
  const configured = token !== '';
  const url = wasenderSendUrl(options.baseUrl);
  const apiBase = url.slice(0, -'/send-message'.length);
  const fetchImpl = options.fetch ?? globalThis.fetch;
  const { timeoutMs } = options;
  const safe = (text: string) => redact(text, [token, options.apiToken]);

  /**
   * One request to the API: answers the parsed body of a 2xx answer, throws the classified gateway
   * error otherwise. `acceptUnreadBody`: a 2xx whose body could not be read counts as accepted (sends:
   * reporting a failure would invite a double send).
   */
  async function request(
    method: 'GET' | 'POST',
    path: string,
    body: unknown,
    opts: SendOptions,
    acceptUnreadBody = false,
  ): Promise<{ value: unknown; json: Json | null }> {
    if (!configured) throw new GatewayNotConfiguredError(NAME);
    // A caller's abort is not a gateway failure: it propagates as the caller's own reason.
    opts.signal?.throwIfAborted();
    const timeout = AbortSignal.timeout(timeoutMs);
    const signal = opts.signal ? AbortSignal.any([opts.signal, timeout]) : timeout;

    const failure = (error: unknown): unknown => {
      if (opts.signal?.aborted) return opts.signal.reason;
      if (timeout.aborted) {
        return new GatewayTransientError(NAME, `${NAME}: request timed out after ${timeoutMs} ms`, null, {
          cause: error,
        });
      }
      return new GatewayTransientError(
        NAME,
        safe(`${NAME}: network error (${networkErrorCode(error)})`),
        null,
        {
          cause: error,
        },
      );
    };

    let response: Response;
    try {
      response = await fetchImpl(`${apiBase}${path}`, {
        method,
        headers: {
          Authorization: `Bearer ${token}`,
          Accept: 'application/json',
          ...(body === undefined ? {} : { 'Content-Type': 'application/json' }),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal,
      });
    } catch (error) {
      throw failure(error);
    }

    let bodyText: string;
    try {
      bodyText = await response.text();
    } catch (error) {
      if (response.ok && acceptUnreadBody) return { value: null, json: null };
      throw failure(error);
    }
    const value = parseAny(bodyText);
    const json = isJsonObject(value) ? value : null;
    const reason = () => safe(describeFailure(response.status, response.statusText, json));

    if (response.status === 429) {
      const retryAfterMs =
        secondsToMs(json?.retry_after) ??
        retryAfterHeaderMs(response.headers.get('retry-after'), Date.now()) ??
        DEFAULT_RETRY_AFTER_MS;
      throw new GatewayRateLimitedError(
        NAME,
        retryAfterMs,
        `${NAME}: rate limited (${reason()}), retry after ${retryAfterMs} ms`,
      );
    }
    if (response.status === 408 || response.status >= 500) {
      throw new GatewayTransientError(NAME, `${NAME}: HTTP ${response.status}: ${reason()}`, response.status);
    }
    if (!response.ok) throw new GatewayRejectedError(NAME, response.status, reason());
    // The API can report a failure inside a 2xx body.
    if (json?.success === false) throw new GatewayRejectedError(NAME, response.status, reason());
    return { value, json };
  }

  function checkRecipient(to: string) {
    if (!configured) throw new GatewayNotConfiguredError(NAME);
    if (!E164.test(to) && !to.includes('@')) {
      throw new GatewayRejectedError(NAME, null, 'recipient must be an E.164 number with a leading +');
    }
  }

  async function sendText(input: SendTextInput, opts: SendOptions = {}): Promise<SendResult> {
    const to = input.to.trim();
    checkRecipient(to);
    if (input.text.trim() === '') throw new GatewayRejectedError(NAME, null, 'text is empty');
    const mentions = input.mentions?.filter((m) => m.trim() !== '') ?? [];
    const body = { to, text: input.text, ...(mentions.length ? { mentions } : {}) };
    const { json } = await request('POST', '/send-message', body, opts, true);
    return { providerId: msgIdFrom(json) };
  }

  /** `GET /api/status`: a bare `{ status }` (connected, connecting, need_scan, logged_out, expired, ...). */
  async function status(opts: SendOptions = {}): Promise<GatewayStatus> {
    const { json } = await request('GET', '/status', undefined, opts);
    const raw = typeof json?.status === 'string' ? json.status.slice(0, 50) : null;
    return { state: sessionState(raw), detail: { sessionStatus: raw } };
  }

  /**
   * `GET /api/groups`, then each group's `GET /api/groups/{jid}/participants` one after another (the
   * participants endpoint allows about 10 calls a minute: a 429 is waited out while the caller's
   * signal allows, up to PARTICIPANT_RETRIES times per group).
   */
  async function listGroups(opts: SendOptions = {}): Promise<GatewayGroup[]> {
    const { value } = await request('GET', '/groups', undefined, opts);
    const groups: GatewayGroup[] = [];
    for (const item of listOf(value, 'groups')) {
      if (!isJsonObject(item)) continue;
      const id = stringOf(item.id) ?? stringOf(item.jid);
      if (!id?.endsWith('@g.us')) continue;
      const name = stringOf(item.name) ?? stringOf(item.subject);
      let participants = Array.isArray(item.participants) ? parseParticipants(item.participants) : null;
      if (participants === null) {
        const path = `/groups/${encodeURIComponent(id)}/participants`;
        const answer = await withRateLimitWaits(() => request('GET', path, undefined, opts), opts);
        participants = parseParticipants(listOf(answer.value, 'participants'));
      }
      groups.push({ id, name: name ? name.slice(0, 200) : null, participants });
    }
    return groups;
  }

  /** `GET /api/contacts`: `{ success, data: [...] }`, `{ contacts: [...] }` or a bare list. */
  async function listContacts(opts: SendOptions = {}): Promise<GatewayContact[]> {
    const { value } = await request('GET', '/contacts', undefined, opts);
    const out: GatewayContact[] = [];
    for (const item of listOf(value, 'contacts')) {
      if (!isJsonObject(item)) continue;
      const phone =
        phoneOfJid(stringOf(item.id)) ?? phoneOfJid(stringOf(item.jid)) ?? phoneOfJid(stringOf(item.phone));
      if (!phone) continue;
      const name = stringOf(item.name) ?? stringOf(item.notify) ?? stringOf(item.verifiedName);
      const picture = stringOf(item.imgUrl) ?? stringOf(item.profilePicture);
      out.push({
        phone,
        name: name ? name.slice(0, 200) : null,
        pictureUrl: picture && /^https?:\/\//i.test(picture) && picture.length <= 2000 ? picture : null,
      });
    }
    return out;
  }

  /** Media by URL: WaSender fetches the file from `publicUrl` itself. */
  async function sendMedia(input: SendMediaInput, opts: SendOptions = {}): Promise<SendResult> {
    const to = input.to.trim();
    checkRecipient(to);
    const field = MEDIA_URL_FIELD[input.kind];
    if (!field) throw new GatewayRejectedError(NAME, null, `cannot send media of kind ${input.kind}`);
    if (!input.publicUrl)
      throw new GatewayRejectedError(
        NAME,
        null,
        'PUBLIC_BASE_URL is not set: the gateway cannot fetch the file',
      );
    const body: Json = { to, [field]: input.publicUrl };
    const caption = input.caption?.trim();
    if (caption && input.kind !== 'audio') body.text = caption;
    if (input.kind === 'document' && input.fileName) body.fileName = input.fileName;
    const { json } = await request('POST', '/send-message', body, opts, true);
    return { providerId: msgIdFrom(json) };
  }

  /**
   * Decrypts an inbound attachment (`POST /api/decrypt-media` with the message object) and downloads
   * the file from the short-lived URL it returns, refusing it once more than `maxBytes` arrived.
   */
  async function downloadMedia(
    handle: Record<string, unknown>,
    opts: { maxBytes: number; signal?: AbortSignal },
  ): Promise<DownloadedMedia> {
    if (!configured) throw new GatewayNotConfiguredError(NAME);
    const { json } = await request('POST', '/decrypt-media', { data: { messages: handle } }, opts);
    const data = json && isJsonObject(json.data) ? json.data : null;
    const publicUrl = json?.publicUrl ?? data?.publicUrl ?? json?.url;
    if (typeof publicUrl !== 'string' || !/^https?:\/\//i.test(publicUrl)) {
      throw new GatewayRejectedError(NAME, null, 'decrypt-media answered without a file URL');
    }
    opts.signal?.throwIfAborted();
    const timeout = AbortSignal.timeout(timeoutMs * 4);
    const signal = opts.signal ? AbortSignal.any([opts.signal, timeout]) : timeout;
    let response: Response;
    try {
      response = await fetchImpl(publicUrl, { signal });
    } catch (error) {
      if (opts.signal?.aborted) throw opts.signal.reason;
      throw new GatewayTransientError(
        NAME,
        `${NAME}: media download failed (${networkErrorCode(error)})`,
        null,
        {
          cause: error,
        },
      );
    }
    if (response.status === 408 || response.status === 429 || response.status >= 500) {
      await response.body?.cancel().catch(() => {});
      throw new GatewayTransientError(
        NAME,
        `${NAME}: media download: HTTP ${response.status}`,
        response.status,
      );
    }
    if (!response.ok || !response.body) {
      await response.body?.cancel().catch(() => {});
      throw new GatewayRejectedError(NAME, response.status, `media download: HTTP ${response.status}`);
    }
    const declared = Number(response.headers.get('content-length'));
    if (Number.isFinite(declared) && declared > opts.maxBytes) {
      await response.body.cancel().catch(() => {});
      throw new MediaTooLargeError(NAME, opts.maxBytes, declared);
    }
    const chunks: Uint8Array[] = [];
    let total = 0;
    try {
      for await (const chunk of response.body) {
        total += chunk.byteLength;
        if (total > opts.maxBytes) throw new MediaTooLargeError(NAME, opts.maxBytes, null);
        chunks.push(chunk);
      }
    } catch (error) {
      await response.body.cancel().catch(() => {});
      if (error instanceof MediaTooLargeError) throw error;
      if (opts.signal?.aborted) throw opts.signal.reason;
      throw new GatewayTransientError(
        NAME,
        `${NAME}: media download cut (${networkErrorCode(error)})`,
        null,
        {
          cause: error,
        },
      );
    }
    const bytes = new Uint8Array(total);
    let at = 0;
    for (const chunk of chunks) {
      bytes.set(chunk, at);
      at += chunk.byteLength;
    }
    const type = response.headers.get('content-type');
    return { bytes, mimeType: type ? type.split(';')[0]!.trim().toLowerCase() || null : null };
  }

  return {
    name: NAME,
    configured,
    fetchesMediaByUrl: true,
    sendText,
    sendMedia,
    downloadMedia,
    status,
    listGroups,
    listContacts,
  };
}

/** Rate-limit answers of one listing call waited out, while the caller's signal allows. */
const PARTICIPANT_RETRIES = 3;
const MAX_LISTING_WAIT_MS = 65_000;

async function withRateLimitWaits<T>(call: () => Promise<T>, opts: SendOptions): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await call();
    } catch (err) {
      if (!(err instanceof GatewayRateLimitedError) || attempt >= PARTICIPANT_RETRIES) throw err;
      if (err.retryAfterMs > MAX_LISTING_WAIT_MS) throw err;
      await sleep(err.retryAfterMs, opts.signal);
      opts.signal?.throwIfAborted();
    }
  }
}

const CONNECTED = new Set(['connected']);
const DISCONNECTED = new Set(['disconnected', 'connecting', 'need_scan', 'logged_out', 'expired']);

function sessionState(raw: string | null): GatewayStatus['state'] {
  if (raw === null) return 'unknown';
  const s = raw.toLowerCase();
  if (CONNECTED.has(s)) return 'connected';
  if (DISCONNECTED.has(s)) return 'disconnected';
  return 'unknown';
}

function parseAny(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

/** The list in a listing answer: `data` (a list, or an object holding `key`), `key`, or a bare list. */
function listOf(value: unknown, key: string): unknown[] {
  if (Array.isArray(value)) return value;
  if (!isJsonObject(value)) return [];
  const data = value.data;
  if (Array.isArray(data)) return data;
  if (isJsonObject(data) && Array.isArray(data[key])) return data[key] as unknown[];
  if (Array.isArray(value[key])) return value[key] as unknown[];
  return [];
}

const LONE_SURROGATES = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

function stringOf(v: unknown): string | null {
  if (typeof v !== 'string') return null;
  // Postgres text refuses NUL; a lone surrogate is not text.
  const s = v.replaceAll('\u0000', '').replace(LONE_SURROGATES, '\uFFFD').trim();
  return s === '' ? null : s;
}

/** `+<digits>` from a phone JID (`123@s.whatsapp.net`, `123:4@s.whatsapp.net`) or plain digits; null for LIDs. */
function phoneOfJid(jid: string | null): string | null {
  if (!jid) return null;
  const [user, server] = jid.split('@');
  if (server !== undefined && server !== 's.whatsapp.net' && server !== 'c.us') return null;
  const digits = (user ?? '').split(':')[0]!.replace(/^\+/, '');
  const phone = `+${digits}`;
  return E164.test(phone) ? phone : null;
}

function parseParticipants(list: unknown[]): GatewayGroup['participants'] {
  const out: GatewayGroup['participants'] = [];
  const seen = new Set<string>();
  for (const p of list) {
    if (!isJsonObject(p)) continue;
    const jid = stringOf(p.id) ?? stringOf(p.jid);
    if (!jid || jid.length > 200 || seen.has(jid)) continue;
    seen.add(jid);
    const phone = phoneOfJid(jid) ?? phoneOfJid(stringOf(p.phoneNumber)) ?? phoneOfJid(stringOf(p.pn));
    const admin =
      p.admin === 'admin' || p.admin === 'superadmin' || p.isAdmin === true || p.isSuperAdmin === true;
    out.push({ jid, phone, admin });
  }
  return out;
}
