/**
 * The contract every WhatsApp gateway client implements (WaSender, Meta's Cloud API), plus the
 * errors callers branch on: rate limited (wait `retryAfterMs`), transient (retry with backoff), rejected
 * (do not retry; `reason` is safe to store and show), not configured (no credentials).
 *
 * Error messages never contain credentials: clients pass provider text through `redact` before using it.
 */

export interface SendTextInput {
  /** E.164 with a leading `+` (a gateway may also accept its own JIDs, such as groups). */
  to: string;
  text: string;
  /**
   * Participant JIDs to mention (group chats). The text names them as `@<number>`; a gateway without
   * mentions sends the text as it is.
   */
  mentions?: string[];
}

export interface SendOptions {
  signal?: AbortSignal;
}

export interface SendResult {
  /** The gateway's id for the queued message, when it returned one. */
  providerId: string | null;
}

export type MediaKind = 'image' | 'audio' | 'video' | 'document' | 'sticker';

export interface SendMediaInput {
  /** E.164 with a leading `+`, or a group JID where the gateway has groups. */
  to: string;
  kind: Exclude<MediaKind, 'sticker'>;
  mimeType: string;
  fileName: string | null;
  caption: string | null;
  /**
   * A signed, expiring public URL of the file, for gateways that fetch media themselves (WaSender);
   * null when the server has no public address (PUBLIC_BASE_URL), which only uploading gateways accept.
   */
  publicUrl: string | null;
  /** The file's bytes, for gateways that take an upload (the Cloud API). */
  read(): Promise<Uint8Array>;
}

export interface SendTemplateInput {
  to: string;
  /** The approved template's name and language code, as the provider lists them. */
  name: string;
  language: string;
  /** Values of the body's `{{1}}`, `{{2}}`… in order. */
  bodyParameters: string[];
}

/** A media attachment of an inbound message: enough to download it later through the same gateway. */
export interface InboundMediaRef {
  kind: MediaKind;
  mimeType: string | null;
  fileName: string | null;
  caption: string | null;
  /** The size the gateway declared, when it did (the download still enforces the limit). */
  declaredBytes: number | null;
  /** A voice note (push-to-talk) rather than an audio file. */
  voice: boolean;
  /** Gateway-specific handle given back to `downloadMedia` (WaSender: the message object; Cloud API: `{ id }`). */
  handle: Record<string, unknown>;
}

export interface DownloadedMedia {
  bytes: Uint8Array;
  /** The type the gateway reported; the stored type is decided from the content. */
  mimeType: string | null;
}

/** The gateway's live view of the WhatsApp session or number. */
export interface GatewayStatus {
  state: 'connected' | 'disconnected' | 'unknown';
  /** Provider facts worth showing (WaSender's session status; the Cloud API's quality rating and messaging tier). */
  detail: Record<string, string | number | boolean | null>;
}

export interface GatewayGroup {
  /** The group's JID (`…@g.us`). */
  id: string;
  name: string | null;
  participants: Array<{ jid: string; phone: string | null; admin: boolean }>;
}

export interface GatewayContact {
  /** E.164 with a leading `+`. */
  phone: string;
  name: string | null;
  pictureUrl: string | null;
}

/**
 * A WhatsApp gateway. `sendText` is universal; the optional methods exist where the provider offers the
 * capability (templates on the Cloud API, groups and contact lists on WaSender). Callers check for a
 * method and answer with a clear error naming the gateway when it is missing.
 */
export interface Gateway {
  readonly name: string;
  readonly configured: boolean;
  /** The gateway fetches outbound files from `SendMediaInput.publicUrl` (so a public address is needed). */
  readonly fetchesMediaByUrl?: boolean;
  sendText(input: SendTextInput, opts?: SendOptions): Promise<SendResult>;
  sendMedia?(input: SendMediaInput, opts?: SendOptions): Promise<SendResult>;
  sendTemplate?(input: SendTemplateInput, opts?: SendOptions): Promise<SendResult>;
  downloadMedia?(
    handle: Record<string, unknown>,
    opts: { maxBytes: number; signal?: AbortSignal },
  ): Promise<DownloadedMedia>;
  status?(opts?: SendOptions): Promise<GatewayStatus>;
  listGroups?(opts?: SendOptions): Promise<GatewayGroup[]>;
  listContacts?(opts?: SendOptions): Promise<GatewayContact[]>;
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
