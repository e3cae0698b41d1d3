/**
 * The contract every WhatsApp gateway client implements (WaSender today, Meta's Cloud API later), plus the
 * errors callers branch on: rate limited (wait `retryAfterMs`), transient (retry with backoff), rejected
 * (do not retry; `reason` is safe to store and show), not configured (no credentials).
 *
 * Error messages never contain credentials: clients pass provider text through `redact` before using it.
 */

export interface SendTextInput {
  /** E.164 with a leading `+` (a gateway may also accept its own JIDs, such as groups). */
  to: string;
  text: string;
}

export interface SendOptions {
  signal?: AbortSignal;
}

export interface SendResult {
  /** The gateway's id for the queued message, when it returned one. */
  providerId: string | null;
}

export interface Gateway {
  readonly name: string;
  readonly configured: boolean;
  sendText(input: SendTextInput, opts?: SendOptions): Promise<SendResult>;
}

export abstract class GatewayError extends Error {
  readonly gateway: string;

  protected constructor(gateway: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.gateway = gateway;
    this.name = new.target.name;
  }
}

/** The gateway refused the request because of its rate limit; retry after `retryAfterMs`. */
export class GatewayRateLimitedError extends GatewayError {
  readonly retryAfterMs: number;

  constructor(gateway: string, retryAfterMs: number, message?: string) {
    super(gateway, message ?? `${gateway}: rate limited, retry after ${retryAfterMs} ms`);
    this.retryAfterMs = retryAfterMs;
  }
}

/** A failure that may succeed on retry: network error, timeout, 408 or 5xx. `status` is null without a response. */
export class GatewayTransientError extends GatewayError {
  readonly status: number | null;

  constructor(gateway: string, message: string, status: number | null = null, options?: { cause?: unknown }) {
    super(gateway, message, options);
    this.status = status;
  }
}

/** Errors raised before a request reached the gateway. */
const CONNECT_ERRORS = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'UND_ERR_CONNECT_TIMEOUT',
]);

/**
 * Whether the gateway may have carried out a request that failed: no HTTP answer came back although
 * the request may have reached it (a timeout, a connection cut mid-request). Such a message is never
 * sent again, by conversation replies and campaigns alike: a customer must not get it twice. It is
 * marked failed for a person to check, and WhatsApp's echo of it, if it comes, marks it sent.
 */
export function mayHaveArrived(err: GatewayTransientError): boolean {
  if (err.status !== null) return false;
  let cause: unknown = err.cause;
  for (let i = 0; i < 3 && cause; i++) {
    const code = (cause as { code?: unknown }).code;
    if (typeof code === 'string' && CONNECT_ERRORS.has(code)) return false;
    cause = (cause as { cause?: unknown }).cause;
  }
  return true;
}

/**
 * The gateway (or the client, before sending) refused the request; retrying the same request will not help.
 * `status` is the HTTP status, or null when the client refused it before any request was made.
 */
export class GatewayRejectedError extends GatewayError {
  readonly status: number | null;
  readonly reason: string;

  constructor(gateway: string, status: number | null, reason: string) {
    super(gateway, `${gateway}: request rejected${status === null ? '' : ` (HTTP ${status})`}: ${reason}`);
    this.status = status;
    this.reason = reason;
  }
}

/** The gateway has no credentials, so nothing can be sent. */
export class GatewayNotConfiguredError extends GatewayError {
  constructor(gateway: string, message?: string) {
    super(gateway, message ?? `${gateway}: not configured (no API token)`);
  }
}

export function isGatewayError(error: unknown): error is GatewayError {
  return error instanceof GatewayError;
}

/** Replaces every occurrence of each secret (of 4+ characters) in `text` with `[redacted]`. */
export function redact(text: string, secrets: ReadonlyArray<string | null | undefined>): string {
  let out = text;
  for (const secret of secrets) {
    if (secret && secret.length >= 4) out = out.split(secret).join('[redacted]');
  }
  return out;
}
