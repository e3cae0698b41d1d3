import {
  type DownloadedMedia,
  type Gateway,
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

function parseJson(text: string): Json | null {
  try {
    const value: unknown = JSON.parse(text);
    return isJsonObject(value) ? value : null;
  } catch {
    return null;
  }
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
  const decryptUrl = wasenderApiUrl(options.baseUrl, 'decrypt-media');
  const fetchImpl = options.fetch ?? globalThis.fetch;
  const { timeoutMs } = options;
  const safe = (text: string) => redact(text, [token, options.apiToken]);

  function checkRecipient(to: string) {
    if (!configured) throw new GatewayNotConfiguredError(NAME);
    if (!E164.test(to) && !to.includes('@')) {
      throw new GatewayRejectedError(NAME, null, 'recipient must be an E.164 number with a leading +');
    }
  }

  /**
   * One JSON POST to the API: the parsed body of a 2xx answer, or the gateway error the failure
   * means. `sent` says whether a 2xx whose body could not be read counts as done (a send must not
   * be reported as failed once accepted).
   */
  async function post(target: string, body: Json, opts: SendOptions, sent: boolean): Promise<Json | null> {
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
      response = await fetchImpl(target, {
        method: 'POST',
        headers: {
          Authorization: `Bearer ${token}`,
          'Content-Type': 'application/json',
          Accept: 'application/json',
        },
        body: JSON.stringify(body),
        signal,
      });
    } catch (error) {
      throw failure(error);
    }

    let bodyText: string;
    try {
      bodyText = await response.text();
    } catch (error) {
      // With a 2xx status line the message was accepted; reporting a failure would invite a double send.
      if (response.ok && sent) return null;
      throw failure(error);
    }
    const json = parseJson(bodyText);
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
    return json;
  }

  async function sendText(input: SendTextInput, opts: SendOptions = {}): Promise<SendResult> {
    const to = input.to.trim();
    checkRecipient(to);
    if (input.text.trim() === '') throw new GatewayRejectedError(NAME, null, 'text is empty');
    return { providerId: msgIdFrom(await post(url, { to, text: input.text }, opts, true)) };
  }

  /** Media by URL: WaSender fetches the file from `publicUrl` itself. */
  async function sendMedia(input: SendMediaInput, opts: SendOptions = {}): Promise<SendResult> {
    const to = input.to.trim();
    checkRecipient(to);
    const field = MEDIA_URL_FIELD[input.kind];
    if (!field) throw new GatewayRejectedError(NAME, null, `cannot send media of kind ${input.kind}`);
    const body: Json = { to, [field]: input.publicUrl };
    const caption = input.caption?.trim();
    if (caption && input.kind !== 'audio') body.text = caption;
    if (input.kind === 'document' && input.fileName) body.fileName = input.fileName;
    return { providerId: msgIdFrom(await post(url, body, opts, true)) };
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
    const json = await post(decryptUrl, { data: { messages: handle } }, opts, false);
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

  return { name: NAME, configured, sendText, sendMedia, downloadMedia };
}
