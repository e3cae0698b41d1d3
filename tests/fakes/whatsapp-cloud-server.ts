import { createHmac, randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { closeServer, listenOnLoopback, sendJson } from './http';

/**
 * A real HTTP fake of Meta's WhatsApp Cloud API (Graph API) on 127.0.0.1.
 *
 * - `POST /{version}/{phone-number-id}/messages` (bearer token): text, template or media-by-id sends,
 *   answered `{ messaging_product, contacts: [{ input, wa_id }], messages: [{ id: 'wamid.…' }] }` and
 *   recorded in `sent` (with `to` as `+digits`).
 * - `POST /{version}/{phone-number-id}/media` (multipart): stores the file, answers `{ id }`.
 * - `GET /{version}/{media-id}`: `{ url, mime_type, file_size, id }`; `GET /download/{media-id}` with the
 *   bearer token: the bytes. `addMedia()` puts a file there (an inbound customer's photo).
 * - `GET /{version}/{phone-number-id}?fields=…`: the number's quality rating and tier (`phoneInfo`).
 * - `GET /{version}/{waba-id}/message_templates`: `templates`, two per page with `paging.cursors.after`.
 * - `script(...)` queues behaviours for the next send requests: a Graph error (`code`, HTTP status),
 *   a hang or a reset.
 * - `webhook` builders and `postWebhook()` post signed bodies (X-Hub-Signature-256) to a server.
 */

export interface FakeCloudStep {
  /** A Graph error answer: `{ error: { message, type, code, error_data: { details } } }`. */
  code?: number;
  status?: number;
  message?: string;
  retryAfterHeader?: string;
  hang?: boolean;
  reset?: boolean;
}

export interface FakeCloudSend {
  /** `+` and the digits the request named. */
  to: string;
  type: string;
  /** The text of a text message, the caption of a media message. */
  text: string | null;
  template: { name: string; language: string; parameters: string[] } | null;
  mediaId: string | null;
  id: string;
  at: number;
}

export interface FakeCloudTemplate {
  name: string;
  language: string;
  category: string;
  status: string;
  body: string;
}

export interface FakeCloud {
  url: string;
  token: string;
  apiVersion: string;
  phoneNumberId: string;
  wabaId: string;
  sent: FakeCloudSend[];
  /** Files uploaded through `/media`, by id. */
  uploads: Map<string, { bytes: Buffer; mimeType: string; fileName: string | null }>;
  requests: Array<{ method: string; path: string; authorized: boolean }>;
  templates: FakeCloudTemplate[];
  phoneInfo: Record<string, unknown>;
  script(...steps: FakeCloudStep[]): void;
  /** A file the fake serves for download (as if a customer had sent it); returns its media id. */
  addMedia(bytes: Buffer, mimeType: string): string;
  waitForSends(n: number, timeoutMs?: number): Promise<FakeCloudSend[]>;
  close(): Promise<void>;
}

const graphError = (code: number, message: string, details?: string) => ({
  error: {
    message,
    type: 'OAuthException',
    code,
    error_data: { messaging_product: 'whatsapp', details: details ?? message },
    fbtrace_id: 'AbCdEf',
  },
});

function readRaw(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

export async function startFakeWhatsappCloud(
  options: { token?: string; phoneNumberId?: string; wabaId?: string } = {},
): Promise<FakeCloud> {
  const token = options.token ?? `EAAG${randomBytes(16).toString('hex')}`;
  const apiVersion = 'v21.0';
  const phoneNumberId = options.phoneNumberId ?? '106540352242922';
  const wabaId = options.wabaId ?? '102290129340398';
  const sent: FakeCloudSend[] = [];
  const uploads = new Map<string, { bytes: Buffer; mimeType: string; fileName: string | null }>();
  const requests: FakeCloud['requests'] = [];
  const steps: FakeCloudStep[] = [];
  const events = new EventEmitter();
  const timers = new Set<NodeJS.Timeout>();
  const templates: FakeCloudTemplate[] = [];
  const phoneInfo: Record<string, unknown> = {
    display_phone_number: '15550783881',
    verified_name: 'Test Shop',
    quality_rating: 'GREEN',
    messaging_limit_tier: 'TIER_1K',
    throughput: { level: 'STANDARD' },
    status: 'CONNECTED',
    id: phoneNumberId,
  };
  let url = '';
  let closed = false;

  async function handleSend(raw: Buffer, res: ServerResponse, req: IncomingMessage) {
    const step = steps.shift();
    if (step?.hang) return;
    if (step?.reset) {
      req.socket.destroy();
      return;
    }
    if (step?.code !== undefined || step?.status !== undefined) {
      const headers: Record<string, string> = step.retryAfterHeader
        ? { 'retry-after': step.retryAfterHeader }
        : {};
      sendJson(
        res,
        step.status ?? 400,
        graphError(step.code ?? 100, step.message ?? `Scripted error ${step.code ?? step.status}`),
        headers,
      );
      return;
    }
    let body: Record<string, unknown>;
    try {
      body = JSON.parse(raw.toString('utf8')) as Record<string, unknown>;
    } catch {
      sendJson(res, 400, graphError(100, 'Invalid parameter', 'The body is not JSON'));
      return;
    }
    const to = typeof body.to === 'string' ? body.to : '';
    if (body.messaging_product !== 'whatsapp' || !/^\d{6,15}$/.test(to)) {
      sendJson(res, 400, graphError(100, 'Invalid parameter', 'to and messaging_product are required'));
      return;
    }
    const type = String(body.type ?? 'text');
    const part = (body[type] ?? {}) as Record<string, unknown>;
    let template: FakeCloudSend['template'] = null;
    if (type === 'template') {
      const components = Array.isArray(part.components) ? part.components : [];
      const bodyComponent = components.find((c) => (c as { type?: string }).type === 'body') as
        | { parameters?: Array<{ text?: string }> }
        | undefined;
      const known = templates.find(
        (t) => t.name === part.name && t.language === (part.language as { code?: string })?.code,
      );
      if (!known) {
        sendJson(res, 404, graphError(132001, 'Template name does not exist in the translation'));
        return;
      }
      template = {
        name: String(part.name),
        language: String((part.language as { code?: string })?.code),
        parameters: (bodyComponent?.parameters ?? []).map((p) => String(p.text)),
      };
    }
    if (type !== 'text' && type !== 'template' && typeof part.id === 'string' && !uploads.has(part.id)) {
      sendJson(res, 400, graphError(131053, 'Media upload error', 'Unknown media id'));
      return;
    }
    const record: FakeCloudSend = {
      to: `+${to}`,
      type,
      text:
        type === 'text' ? String(part.body ?? '') : typeof part.caption === 'string' ? part.caption : null,
      template,
      mediaId: typeof part.id === 'string' ? part.id : null,
      id: `wamid.${randomBytes(12).toString('hex')}`,
      at: Date.now(),
    };
    sent.push(record);
    events.emit('send', record);
    sendJson(res, 200, {
      messaging_product: 'whatsapp',
      contacts: [{ input: to, wa_id: to }],
      messages: [{ id: record.id }],
    });
  }

  async function handleUpload(raw: Buffer, req: IncomingMessage, res: ServerResponse) {
    const form = await new Response(new Uint8Array(raw), {
      headers: { 'content-type': String(req.headers['content-type'] ?? '') },
    })
      .formData()
      .catch(() => null);
    const file = form?.get('file');
    if (form?.get('messaging_product') !== 'whatsapp' || !(file instanceof Blob)) {
      sendJson(res, 400, graphError(100, 'Invalid parameter', 'file and messaging_product are required'));
      return;
    }
    const id = String(1_000_000_000_000 + uploads.size + Math.floor(Math.random() * 1e6));
    uploads.set(id, {
      bytes: Buffer.from(await file.arrayBuffer()),
      mimeType: String(form.get('type') ?? file.type),
      fileName: file instanceof File ? file.name : null,
    });
    sendJson(res, 200, { id });
  }

  const server = createServer((req, res) => {
    const [path = '/', query = ''] = (req.url ?? '/').split('?');
    const authorized = req.headers.authorization === `Bearer ${token}`;
    requests.push({ method: req.method ?? '', path, authorized });
    readRaw(req)
      .then(async (raw) => {
        if (closed) return;
        if (!authorized) {
          sendJson(res, 401, graphError(190, 'Invalid OAuth access token - Cannot parse access token'));
          return;
        }
        const parts = path.split('/').filter(Boolean);
        if (parts[0] === 'download' && parts[1] && req.method === 'GET') {
          const file = uploads.get(parts[1]);
          if (!file) return sendJson(res, 404, graphError(100, 'Unknown media'));
          res.writeHead(200, { 'content-type': file.mimeType, 'content-length': file.bytes.length });
          res.end(file.bytes);
          return;
        }
        if (parts[0] !== apiVersion) return sendJson(res, 404, graphError(100, 'Unknown path'));
        const [, node, edge] = parts;
        if (req.method === 'POST' && node === phoneNumberId && edge === 'messages')
          return handleSend(raw, res, req);
        if (req.method === 'POST' && node === phoneNumberId && edge === 'media')
          return handleUpload(raw, req, res);
        if (req.method === 'GET' && node === phoneNumberId && !edge) return sendJson(res, 200, phoneInfo);
        if (req.method === 'GET' && node === wabaId && edge === 'message_templates') {
          const after = Number(new URLSearchParams(query).get('after') ?? '0') || 0;
          const page = templates.slice(after, after + 2);
          const more = after + 2 < templates.length;
          return sendJson(res, 200, {
            data: page.map((t) => ({
              name: t.name,
              language: t.language,
              category: t.category,
              status: t.status,
              id: `${t.name}-${t.language}`,
              components: [{ type: 'BODY', text: t.body }],
            })),
            paging: {
              cursors: { before: String(after), after: String(after + 2) },
              ...(more
                ? { next: `${url}/${apiVersion}/${wabaId}/message_templates?after=${after + 2}` }
                : {}),
            },
          });
        }
        if (req.method === 'GET' && node && uploads.has(node) && !edge) {
          const file = uploads.get(node)!;
          return sendJson(res, 200, {
            messaging_product: 'whatsapp',
            url: `${url}/download/${node}`,
            mime_type: file.mimeType,
            sha256: 'x',
            file_size: file.bytes.length,
            id: node,
          });
        }
        sendJson(res, 404, graphError(100, 'Unsupported request'));
      })
      .catch(() => {
        if (!res.headersSent) sendJson(res, 500, graphError(1, 'fake server error'));
      });
  });
  const port = await listenOnLoopback(server);
  url = `http://127.0.0.1:${port}`;

  return {
    url,
    token,
    apiVersion,
    phoneNumberId,
    wabaId,
    sent,
    uploads,
    requests,
    templates,
    phoneInfo,
    script(...next) {
      steps.push(...next);
    },
    addMedia(bytes, mimeType) {
      const id = String(2_000_000_000_000 + uploads.size);
      uploads.set(id, { bytes, mimeType, fileName: null });
      return id;
    },
    waitForSends(n, timeoutMs = 10_000) {
      if (sent.length >= n) return Promise.resolve(sent.slice());
      return new Promise((resolve, reject) => {
        const onSend = () => {
          if (sent.length < n) return;
          cleanup();
          resolve(sent.slice());
        };
        const timer = setTimeout(() => {
          cleanup();
          reject(new Error(`waitForSends: expected ${n} sends within ${timeoutMs} ms, got ${sent.length}`));
        }, timeoutMs);
        const cleanup = () => {
          clearTimeout(timer);
          events.off('send', onSend);
        };
        events.on('send', onSend);
      });
    },
    async close() {
      if (closed) return;
      closed = true;
      await closeServer(server, timers);
    },
  };
}

// -------------------------------------------------------------------------------------------------------
// Webhook bodies as Meta posts them, and a signed post.

export const newWamid = () => `wamid.HBgL${randomBytes(12).toString('hex').toUpperCase()}`;

function envelope(value: Record<string, unknown>) {
  return {
    object: 'whatsapp_business_account',
    entry: [
      {
        id: '102290129340398',
        changes: [
          {
            field: 'messages',
            value: {
              messaging_product: 'whatsapp',
              metadata: { display_phone_number: '15550783881', phone_number_id: '106540352242922' },
              ...value,
            },
          },
        ],
      },
    ],
  };
}

export const cloudWebhook = {
  /** A customer's message of any type (`text` builds `{ text: { body } }`). */
  message(p: {
    phone: string;
    id?: string;
    name?: string | null;
    type?: string;
    text?: string;
    content?: Record<string, unknown>;
    timestamp?: unknown;
  }) {
    const type = p.type ?? 'text';
    return envelope({
      contacts: p.name === null ? undefined : [{ profile: { name: p.name ?? 'Customer' }, wa_id: p.phone }],
      messages: [
        {
          from: p.phone,
          id: p.id ?? newWamid(),
          timestamp: p.timestamp ?? String(Math.floor(Date.now() / 1000)),
          type,
          ...(p.content ?? (type === 'text' ? { text: { body: p.text ?? '' } } : {})),
        },
      ],
    });
  },
  /** A delivery status of one of our messages. */
  status(p: { id: string; status: string; phone?: string; errors?: Array<Record<string, unknown>> }) {
    return envelope({
      statuses: [
        {
          id: p.id,
          status: p.status,
          timestamp: String(Math.floor(Date.now() / 1000)),
          recipient_id: p.phone ?? '14155550000',
          ...(p.errors ? { errors: p.errors } : {}),
        },
      ],
    });
  },
};

/** `sha256=` and the hex HMAC-SHA256 of the body under the app secret, as Meta signs. */
export function hubSignature(body: string, appSecret: string): string {
  return `sha256=${createHmac('sha256', appSecret).update(body).digest('hex')}`;
}

/** Posts a body to `/webhook/whatsapp-cloud`, signed with `appSecret` (unsigned when null). */
export function postCloudWebhook(
  baseUrl: string,
  body: unknown,
  appSecret: string | null,
): Promise<Response> {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  return fetch(`${baseUrl}/webhook/whatsapp-cloud`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      ...(appSecret === null ? {} : { 'x-hub-signature-256': hubSignature(text, appSecret) }),
    },
    body: text,
  });
}
