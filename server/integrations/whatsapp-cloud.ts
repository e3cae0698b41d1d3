import {
  type DownloadedMedia,
  type Gateway,
  GatewayNotConfiguredError,
  GatewayRateLimitedError,
  GatewayRejectedError,
  type GatewayStatus,
  GatewayTransientError,
  redact,
  type SendMediaInput,
  type SendOptions,
  type SendResult,
  type SendTemplateInput,
  type SendTextInput,
} from './gateway';

/**
 * Meta's WhatsApp Cloud API (Graph API) as a gateway: text, approved templates, media (uploaded, then
 * sent by id), media download (id → short-lived URL → bytes, with the bearer token), the number's
 * quality rating and messaging tier, and the business account's template list.
 *
 * Graph errors come as `{ error: { message, code, error_subcode, error_data: { details } } }`; they map
 * to the gateway errors: rate limits (130429, 131056 pair limit, 80007, 131048) wait and retry;
 * 131047 (more than 24 hours since the customer's last message) and every other 4xx are rejected
 * with Meta's text (credentials redacted); 5xx, 408 and network errors are transient.
 */
export interface WhatsappCloudOptions {
  baseUrl: string;
  apiVersion: string;
  phoneNumberId: string | null | undefined;
  wabaId: string | null | undefined;
  accessToken: string | null | undefined;
  /** Upper bound for one request, response body included. */
  timeoutMs: number;
  fetch?: typeof fetch;
}

/** A message template as the business account lists it. */
export interface CloudTemplate {
  name: string;
  language: string;
  category: string | null;
  /** APPROVED, PENDING, REJECTED, PAUSED, DISABLED, ... as Meta reports it. */
  status: string;
  /** The highest `{{n}}` of the body component (0 when the body has no variables). */
  bodyVariables: number;
}

export interface WhatsappCloudGateway extends Gateway {
  readonly name: 'whatsapp-cloud';
  sendMedia(input: SendMediaInput, opts?: SendOptions): Promise<SendResult>;
  sendTemplate(input: SendTemplateInput, opts?: SendOptions): Promise<SendResult>;
  downloadMedia(
    handle: Record<string, unknown>,
    opts: { maxBytes: number; signal?: AbortSignal },
  ): Promise<DownloadedMedia>;
  status(opts?: SendOptions): Promise<GatewayStatus>;
  /** Every template of the business account (all pages). */
  listTemplates(opts?: SendOptions): Promise<CloudTemplate[]>;
}

export const CLOUD_GATEWAY = 'whatsapp-cloud' as const;
const NAME = CLOUD_GATEWAY;
const MAX_REASON_LENGTH = 300;
const E164 = /^\+[1-9]\d{6,14}$/;
/** Meta's error codes that mean "slow down". */
const RATE_LIMIT_CODES = new Set([4, 80007, 130429, 131048, 131056]);
/** Meta's error codes that mean "try again later" whatever the HTTP status. */
const TRANSIENT_CODES = new Set([1, 2, 131000, 131016]);
/** Default waits: the pair limit (one message to one user every few seconds) and the others. */
const PAIR_RETRY_AFTER_MS = 6_000;
const DEFAULT_RETRY_AFTER_MS = 60_000;
/** The re-engagement error: more than 24 hours since the customer's last message. */
export const REENGAGEMENT_CODE = 131047;
const TEMPLATE_PAGES_MAX = 50;

type Json = Record<string, unknown>;

function isJson(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function parseJson(text: string): Json | null {
  try {
    const value: unknown = JSON.parse(text);
    return isJson(value) ? value : null;
  } catch {
    return null;
  }
}

function oneLine(text: string): string {
  const line = text.replace(/\s+/g, ' ').trim();
  return line.length > MAX_REASON_LENGTH ? `${line.slice(0, MAX_REASON_LENGTH - 1)}…` : line;
}

interface GraphError {
  code: number | null;
  message: string;
}

function graphError(status: number, json: Json | null): GraphError {
  const err = json && isJson(json.error) ? json.error : null;
  const code = err && typeof err.code === 'number' ? err.code : null;
  const parts: string[] = [];
  if (err && typeof err.message === 'string' && err.message.trim()) parts.push(err.message.trim());
  const data = err && isJson(err.error_data) ? err.error_data : null;
  if (data && typeof data.details === 'string' && data.details.trim()) parts.push(data.details.trim());
  const text = parts.length ? parts.join(': ') : `HTTP ${status}`;
  return { code, message: oneLine(code === null ? text : `${text} (Meta error ${code})`) };
}

/** `Retry-After` as delta seconds. */
function retryAfterMs(header: string | null): number | null {
  if (!header) return null;
  const n = Number(header.trim());
  return Number.isFinite(n) && n >= 0 ? Math.ceil(n * 1000) : null;
}

function codeOf(value: unknown): string | null {
  return isJson(value) && typeof value.code === 'string' ? value.code : null;
}

function networkErrorCode(error: unknown): string {
  const cause = error instanceof Error ? error.cause : undefined;
  return codeOf(cause) ?? codeOf(error) ?? (error instanceof Error ? error.name : 'unknown');
}

/** A readable reason for the errors callers show (131047 in words; the others as Meta put them). */
export function cloudRejectionReason(code: number | null, message: string): string {
  if (code === REENGAGEMENT_CODE) {
    return `outside the 24-hour customer service window: more than 24 hours since the customer's last message, only an approved template can be sent (${message})`;
  }
  if (code === 131026) return `message undeliverable: the number may not be on WhatsApp (${message})`;
  if (code !== null && code >= 132000 && code < 133000) return `template refused: ${message}`;
  return message;
}

/** The highest `{{n}}` in a template body. */
export function countBodyVariables(text: string): number {
  let max = 0;
  for (const m of text.matchAll(/\{\{\s*(\d{1,3})\s*\}\}/g)) max = Math.max(max, Number(m[1]));
  return max;
}

export function createWhatsappCloudGateway(options: WhatsappCloudOptions): WhatsappCloudGateway {
  const token = options.accessToken?.trim() ?? '';
  const phoneNumberId = options.phoneNumberId?.trim() ?? '';
  const wabaId = options.wabaId?.trim() ?? '';
  const configured = token !== '' && phoneNumberId !== '';
  const root = `${options.baseUrl.trim().replace(/\/+$/, '')}/${options.apiVersion}`;
  const fetchImpl = options.fetch ?? globalThis.fetch;
  const { timeoutMs } = options;
  const safe = (text: string) => redact(text, [token, options.accessToken]);

  function signalFor(opts: SendOptions) {
    opts.signal?.throwIfAborted();
    const timeout = AbortSignal.timeout(timeoutMs);
    return { timeout, signal: opts.signal ? AbortSignal.any([opts.signal, timeout]) : timeout };
  }

  function failure(error: unknown, opts: SendOptions, timeout: AbortSignal): unknown {
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
  }

  /** Turns a failed Graph answer into the gateway error callers branch on. */
  function errorFor(response: Response, json: Json | null): Error {
    const { code, message } = graphError(response.status, json);
    const reason = safe(message);
    if (code !== null && RATE_LIMIT_CODES.has(code)) {
      const wait =
        retryAfterMs(response.headers.get('retry-after')) ??
        (code === 131056 ? PAIR_RETRY_AFTER_MS : DEFAULT_RETRY_AFTER_MS);
      return new GatewayRateLimitedError(
        NAME,
        wait,
        `${NAME}: rate limited (${reason}), retry after ${wait} ms`,
      );
    }
    if (response.status === 429) {
      const wait = retryAfterMs(response.headers.get('retry-after')) ?? DEFAULT_RETRY_AFTER_MS;
      return new GatewayRateLimitedError(
        NAME,
        wait,
        `${NAME}: rate limited (${reason}), retry after ${wait} ms`,
      );
    }
    if (response.status === 408 || response.status >= 500 || (code !== null && TRANSIENT_CODES.has(code))) {
      return new GatewayTransientError(NAME, `${NAME}: HTTP ${response.status}: ${reason}`, response.status);
    }
    return new GatewayRejectedError(NAME, response.status, safe(cloudRejectionReason(code, message)));
  }

  /** One Graph call: JSON in and out, errors mapped. */
  async function call(
    method: 'GET' | 'POST',
    url: string,
    body: FormData | Json | undefined,
    opts: SendOptions,
    acceptedAt?: 'post',
  ): Promise<Json> {
    const { timeout, signal } = signalFor(opts);
    const headers: Record<string, string> = { Authorization: `Bearer ${token}`, Accept: 'application/json' };
    let payload: FormData | string | undefined;
    if (body instanceof FormData) payload = body;
    else if (body !== undefined) {
      headers['Content-Type'] = 'application/json';
      payload = JSON.stringify(body);
    }
    let response: Response;
    try {
      response = await fetchImpl(url, { method, headers, body: payload, signal });
    } catch (error) {
      throw failure(error, opts, timeout);
    }
    let text: string;
    try {
      text = await response.text();
    } catch (error) {
      // A send answered 2xx was accepted; reporting a failure would invite a double send.
      if (response.ok && acceptedAt === 'post') return {};
      throw failure(error, opts, timeout);
    }
    const json = parseJson(text);
    if (!response.ok || (json && isJson(json.error))) throw errorFor(response, json);
    return json ?? {};
  }

  function requireConfigured() {
    if (!configured) {
      throw new GatewayNotConfiguredError(
        NAME,
        `${NAME}: not configured (no access token or phone number id)`,
      );
    }
  }

  function recipient(to: string): string {
    const trimmed = to.trim();
    if (!E164.test(trimmed)) {
      throw new GatewayRejectedError(NAME, null, 'recipient must be an E.164 number with a leading +');
    }
    return trimmed.slice(1);
  }

  async function sendMessage(message: Json, opts: SendOptions): Promise<SendResult> {
    const json = await call(
      'POST',
      `${root}/${phoneNumberId}/messages`,
      { messaging_product: 'whatsapp', recipient_type: 'individual', ...message },
      opts,
      'post',
    );
    const first = Array.isArray(json.messages) ? json.messages[0] : null;
    const id = isJson(first) && typeof first.id === 'string' && first.id.trim() ? first.id.trim() : null;
    return { providerId: id };
  }

  async function sendText(input: SendTextInput, opts: SendOptions = {}): Promise<SendResult> {
    requireConfigured();
    const to = recipient(input.to);
    if (input.text.trim() === '') throw new GatewayRejectedError(NAME, null, 'text is empty');
    return sendMessage({ to, type: 'text', text: { body: input.text, preview_url: false } }, opts);
  }

  async function sendTemplate(input: SendTemplateInput, opts: SendOptions = {}): Promise<SendResult> {
    requireConfigured();
    const to = recipient(input.to);
    const components = input.bodyParameters.length
      ? [{ type: 'body', parameters: input.bodyParameters.map((text) => ({ type: 'text', text })) }]
      : [];
    return sendMessage(
      {
        to,
        type: 'template',
        template: { name: input.name, language: { code: input.language }, components },
      },
      opts,
    );
  }

  async function sendMedia(input: SendMediaInput, opts: SendOptions = {}): Promise<SendResult> {
    requireConfigured();
    const to = recipient(input.to);
    const bytes = await input.read();
    const form = new FormData();
    form.append('messaging_product', 'whatsapp');
    form.append('type', input.mimeType);
    form.append(
      'file',
      new Blob([bytes as Uint8Array<ArrayBuffer>], { type: input.mimeType }),
      input.fileName ?? 'file',
    );
    const uploaded = await call('POST', `${root}/${phoneNumberId}/media`, form, opts);
    const mediaId = typeof uploaded.id === 'string' ? uploaded.id : null;
    if (!mediaId) throw new GatewayTransientError(NAME, `${NAME}: media upload returned no id`, 200);
    const media: Json = { id: mediaId };
    if (input.caption && input.kind !== 'audio') media.caption = input.caption;
    if (input.kind === 'document' && input.fileName) media.filename = input.fileName;
    return sendMessage({ to, type: input.kind, [input.kind]: media }, opts);
  }

  async function downloadMedia(
    handle: Record<string, unknown>,
    opts: { maxBytes: number; signal?: AbortSignal },
  ): Promise<DownloadedMedia> {
    requireConfigured();
    const id = typeof handle.id === 'string' && /^[\w.-]{1,128}$/.test(handle.id) ? handle.id : null;
    if (!id) throw new GatewayRejectedError(NAME, null, 'media handle has no usable id');
    const info = await call('GET', `${root}/${encodeURIComponent(id)}`, undefined, opts);
    const url = typeof info.url === 'string' ? info.url : null;
    if (!url || !/^https?:\/\//i.test(url)) {
      throw new GatewayTransientError(NAME, `${NAME}: media ${id} has no download URL`, 200);
    }
    const declared = typeof info.file_size === 'number' ? info.file_size : Number(info.file_size);
    if (Number.isFinite(declared) && declared > opts.maxBytes) {
      throw new GatewayRejectedError(
        NAME,
        null,
        `media is ${declared} bytes, more than the ${opts.maxBytes} allowed`,
      );
    }
    const { timeout, signal } = signalFor(opts);
    let response: Response;
    try {
      response = await fetchImpl(url, { headers: { Authorization: `Bearer ${token}` }, signal });
    } catch (error) {
      throw failure(error, opts, timeout);
    }
    if (!response.ok) {
      const json = parseJson(await response.text().catch(() => ''));
      throw errorFor(response, json);
    }
    const chunks: Uint8Array[] = [];
    let total = 0;
    try {
      const reader = response.body?.getReader();
      if (reader) {
        for (;;) {
          const { done, value } = await reader.read();
          if (done) break;
          total += value.byteLength;
          if (total > opts.maxBytes) {
            await reader.cancel().catch(() => {});
            throw new GatewayRejectedError(
              NAME,
              null,
              `media is larger than the ${opts.maxBytes} bytes allowed`,
            );
          }
          chunks.push(value);
        }
      }
    } catch (error) {
      if (error instanceof GatewayRejectedError) throw error;
      throw failure(error, opts, timeout);
    }
    const bytes = new Uint8Array(total);
    let at = 0;
    for (const c of chunks) {
      bytes.set(c, at);
      at += c.byteLength;
    }
    const mimeType =
      typeof info.mime_type === 'string' ? info.mime_type : (response.headers.get('content-type') ?? null);
    return { bytes, mimeType };
  }

  async function status(opts: SendOptions = {}): Promise<GatewayStatus> {
    if (!configured) return { state: 'unknown', detail: { configured: false } };
    const fields = 'display_phone_number,verified_name,quality_rating,messaging_limit_tier,throughput,status';
    let json: Json;
    try {
      json = await call('GET', `${root}/${phoneNumberId}?fields=${fields}`, undefined, opts);
    } catch (error) {
      if (error instanceof GatewayRejectedError) {
        return { state: 'disconnected', detail: { error: error.reason } };
      }
      if (error instanceof GatewayTransientError || error instanceof GatewayRateLimitedError) {
        return { state: 'unknown', detail: { error: error.message } };
      }
      throw error;
    }
    const str = (v: unknown) => (typeof v === 'string' ? v : null);
    const throughput = isJson(json.throughput) ? str(json.throughput.level) : null;
    const numberStatus = str(json.status);
    return {
      state: numberStatus === null || numberStatus === 'CONNECTED' ? 'connected' : 'disconnected',
      detail: {
        displayPhoneNumber: str(json.display_phone_number),
        verifiedName: str(json.verified_name),
        qualityRating: str(json.quality_rating),
        messagingLimitTier: str(json.messaging_limit_tier),
        throughput,
        numberStatus,
      },
    };
  }

  async function listTemplates(opts: SendOptions = {}): Promise<CloudTemplate[]> {
    requireConfigured();
    if (!wabaId)
      throw new GatewayNotConfiguredError(NAME, `${NAME}: no business account id (WHATSAPP_CLOUD_WABA_ID)`);
    const out: CloudTemplate[] = [];
    let after: string | null = null;
    for (let page = 0; page < TEMPLATE_PAGES_MAX; page++) {
      const query = new URLSearchParams({ fields: 'name,language,category,status,components', limit: '100' });
      if (after) query.set('after', after);
      const json = await call('GET', `${root}/${wabaId}/message_templates?${query}`, undefined, opts);
      for (const t of Array.isArray(json.data) ? json.data : []) {
        if (!isJson(t) || typeof t.name !== 'string' || typeof t.language !== 'string') continue;
        const body = Array.isArray(t.components)
          ? t.components.find((c) => isJson(c) && String(c.type).toUpperCase() === 'BODY')
          : null;
        out.push({
          name: t.name,
          language: t.language,
          category: typeof t.category === 'string' ? t.category : null,
          status: typeof t.status === 'string' ? t.status : 'UNKNOWN',
          bodyVariables: isJson(body) && typeof body.text === 'string' ? countBodyVariables(body.text) : 0,
        });
      }
      const paging = isJson(json.paging) ? json.paging : null;
      const cursors = paging && isJson(paging.cursors) ? paging.cursors : null;
      const next = paging && typeof paging.next === 'string' ? paging.next : null;
      after = next && cursors && typeof cursors.after === 'string' ? cursors.after : null;
      if (!after) break;
    }
    return out;
  }

  return {
    name: NAME,
    configured,
    sendText,
    sendTemplate,
    sendMedia,
    downloadMedia,
    status,
    listTemplates,
  };
}
