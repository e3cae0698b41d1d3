import {
  type Gateway,
  GatewayNotConfiguredError,
  GatewayRateLimitedError,
  GatewayRejectedError,
  GatewayTransientError,
  redact,
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

export function createWasenderGateway(options: WasenderGatewayOptions): Gateway {
  const token = options.apiToken?.trim() ?? '';
  const configured = token !== '';
  const url = wasenderSendUrl(options.baseUrl);
  const fetchImpl = options.fetch ?? globalThis.fetch;
  const { timeoutMs } = options;
  const safe = (text: string) => redact(text, [token, options.apiToken]);

  async function sendText(input: SendTextInput, opts: SendOptions = {}): Promise<SendResult> {
    if (!configured) throw new GatewayNotConfiguredError(NAME);
    const to = input.to.trim();
    if (!E164.test(to) && !to.includes('@')) {
      throw new GatewayRejectedError(NAME, null, 'recipient must be an E.164 number with a leading +');
    }
    if (input.text.trim() === '') throw new GatewayRejectedError(NAME, null, 'text is empty');

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
      response = await fetchImpl(url, {
        method: 'POST',
        headers: {
          Authorization: `Bearer ${token}`,
          'Content-Type': 'application/json',
          Accept: 'application/json',
        },
        body: JSON.stringify({ to, text: input.text }),
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
      if (response.ok) return { providerId: null };
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
    return { providerId: msgIdFrom(json) };
  }

  return { name: NAME, configured, sendText };
}
