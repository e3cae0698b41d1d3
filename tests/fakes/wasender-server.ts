import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { closeServer, listenOnLoopback, readBody, sendJson } from './http';

/**
 * A real HTTP fake of WaSender's send endpoint on 127.0.0.1, for tests that exercise the gateway client, the
 * send queue and retry logic over a socket.
 *
 * - `POST /api/send-message` with `Authorization: Bearer <token>` and JSON `{ to, text }`.
 * - Success: `{ success: true, data: { msgId, jid, status: 'in_progress' } }`, recorded in `sent`.
 * - Wrong or missing token: 401 `{ success: false, message: 'API key is required' }`.
 * - Invalid body: 422 with a Laravel-style `errors` map.
 * - `script(...)` queues behaviours for the next send requests, one per request.
 * - Media sends: `imageUrl`, `videoUrl`, `audioUrl` or `documentUrl` (with `fileName`) instead of or
 *   beside `text` (the caption); the fake downloads the URL at once, as WaSender does, and records
 *   what it got in the send's `media` (`fetchUrl(url)` downloads it again later).
 * - `POST /api/decrypt-media` with `{ data: { messages: { key: { id }, message } } }` answers
 *   `{ success: true, publicUrl }` for a file registered with `addMedia(id, bytes, mimeType)`; the
 *   file is served at that URL (`GET /api/decrypted-media/<token>`). Unknown ids get 404.
 * - `setRatePerSecond(n)` enforces n accepted sends per sliding second; extra sends get 429 with
 *   `retry_after` (seconds) and are recorded in `rejected`.
 * - A send's `mentions` (participant JIDs, group messages) are recorded with it.
 * - `GET /api/status`: `{ status }` as set by `setSessionStatus` (default `connected`).
 * - `GET /api/groups`: `{ success, data: [{ id, name, imgUrl }] }` from `setGroups`;
 *   `GET /api/groups/{jid}/participants`: `{ success, data: [{ id, admin }] }` (404 for an unknown group).
 * - `GET /api/contacts`: `{ success, data: [...] }`, the objects given to `setContacts` as they are.
 * - Every listing or status request is recorded in `reads` (method and path).
 */

export interface FakeWasenderStep {
  /** Respond with this status. 429 gets `retry_after` in the body; other non-2xx get `{ success: false }`. */
  status?: number;
  /** For 429: `retry_after` in seconds in the body (default 1). Set null to omit it. */
  retryAfter?: number | null;
  /** A `Retry-After` response header. */
  retryAfterHeader?: string;
  /** The `message` of an error body. */
  message?: string;
  /** Exact JSON body to send (with `status`, default 200). Nothing is recorded. */
  body?: unknown;
  /** Wait this long before acting (alone: then handle the request normally). */
  delayMs?: number;
  /** Never answer (until `close()`), to exercise client timeouts. */
  hang?: boolean;
  /** Destroy the socket without answering. */
  reset?: boolean;
  /** Hold the request until this settles, then act (a send response the test releases when it wants). */
  gate?: Promise<unknown>;
  /** Answer a successful send with this msgId (instead of the next one). */
  msgId?: number;
}

export interface FakeWasenderSend {
  to: string;
  /** The text, or a media send's caption ('' when none). */
  text: string;
  at: number;
  msgId: number;
  /** Participant JIDs the send mentioned, when it named any. */
  mentions?: string[];
  /** A media send: the URL field used, the URL, and what downloading it gave at send time. */
  media?: FakeWasenderMediaSend;
}

export interface FakeWasenderGroup {
  id: string;
  name: string | null;
  participants: Array<{ id: string; admin?: 'admin' | 'superadmin' | null }>;
}

export interface FakeWasenderMediaSend {
  field: 'imageUrl' | 'videoUrl' | 'audioUrl' | 'documentUrl';
  url: string;
  fileName: string | null;
  status: number;
  contentType: string | null;
  bytes: Uint8Array;
}

export interface FakeWasenderRejection {
  to: string;
  text: string;
  at: number;
  retryAfter: number;
}

export interface FakeWasenderRequest {
  at: number;
  authorized: boolean;
  body: unknown;
}

export interface FakeWasenderOptions {
  /** Bearer token to accept (default: random). */
  token?: string;
  ratePerSecond?: number | null;
  /** First msgId handed out (default 100000, as in WaSender's docs). */
  firstMsgId?: number;
}

export interface FakeWasender {
  /** Base URL without a trailing slash and without `/api`. */
  url: string;
  token: string;
  sent: FakeWasenderSend[];
  rejected: FakeWasenderRejection[];
  /** Every request that reached `/api/send-message`, in order. */
  requests: FakeWasenderRequest[];
  /** Status and listing requests (`GET /api/status`, `/api/groups…`, `/api/contacts`), in order. */
  reads: Array<{ path: string; at: number; authorized: boolean }>;
  script(...steps: FakeWasenderStep[]): void;
  setSessionStatus(status: string): void;
  setGroups(groups: FakeWasenderGroup[]): void;
  /** Contact objects as WaSender lists them (`id`, `name`, `notify`, `verifiedName`, `imgUrl`, ...). */
  setContacts(contacts: Array<Record<string, unknown>>): void;
  setRatePerSecond(perSecond: number | null): void;
  /** Registers the file `POST /api/decrypt-media` gives for the message with this key id. */
  addMedia(messageId: string, bytes: Uint8Array, mimeType: string, opts?: { chunked?: boolean }): void;
  /** Every decrypt-media request body, in order. */
  decryptRequests: unknown[];
  /** Downloads a URL as WaSender would (status, type and bytes). */
  fetchUrl(url: string): Promise<{ status: number; contentType: string | null; bytes: Uint8Array }>;
  /** Resolves with a copy of `sent` once it holds at least n sends; rejects after timeoutMs. */
  waitForSends(n: number, timeoutMs?: number): Promise<FakeWasenderSend[]>;
  close(): Promise<void>;
}

const MEDIA_FIELDS = ['imageUrl', 'videoUrl', 'audioUrl', 'documentUrl'] as const;

interface ParsedSend {
  to: string;
  text: string;
  media: { field: (typeof MEDIA_FIELDS)[number]; url: string; fileName: string | null } | null;
  mentions?: string[];
}

function parseSend(raw: string): ParsedSend | { errors: Record<string, string[]> } {
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    return { errors: { body: ['The body must be valid JSON.'] } };
  }
  const body = typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : {};
  const errors: Record<string, string[]> = {};
  if (typeof body.to !== 'string' || body.to.trim() === '') errors.to = ['The to field is required.'];
  const field = MEDIA_FIELDS.find((f) => body[f] !== undefined);
  let media: ParsedSend['media'] = null;
  if (field) {
    const url = body[field];
    if (typeof url !== 'string' || !/^https?:\/\//.test(url)) errors[field] = [`The ${field} must be a URL.`];
    else media = { field, url, fileName: typeof body.fileName === 'string' ? body.fileName : null };
  } else if (typeof body.text !== 'string' || body.text === '') {
    errors.text = ['The text field is required when no media is present.'];
  }
  if (body.mentions !== undefined) {
    const ok = Array.isArray(body.mentions) && body.mentions.every((m) => typeof m === 'string');
    if (!ok) errors.mentions = ['The mentions must be an array of strings.'];
  }
  if (Object.keys(errors).length > 0) return { errors };
  return {
    to: body.to as string,
    text: typeof body.text === 'string' ? body.text : '',
    media,
    ...(body.mentions === undefined ? {} : { mentions: body.mentions as string[] }),
  };
}

export async function startFakeWasender(options: FakeWasenderOptions = {}): Promise<FakeWasender> {
  const token = options.token ?? `wsk_${randomBytes(12).toString('hex')}`;
  const sent: FakeWasenderSend[] = [];
  const rejected: FakeWasenderRejection[] = [];
  const requests: FakeWasenderRequest[] = [];
  const steps: FakeWasenderStep[] = [];
  const events = new EventEmitter();
  const timers = new Set<NodeJS.Timeout>();
  let ratePerSecond = options.ratePerSecond ?? null;
  let nextMsgId = options.firstMsgId ?? 100_000;
  let closed = false;
  const reads: Array<{ path: string; at: number; authorized: boolean }> = [];
  let sessionStatus = 'connected';
  let groups: FakeWasenderGroup[] = [];
  let contactList: Array<Record<string, unknown>> = [];

  function handleRead(req: IncomingMessage, res: ServerResponse, path: string): boolean {
    const authorized = req.headers.authorization === `Bearer ${token}`;
    const known =
      path === '/api/status' ||
      path === '/api/groups' ||
      path === '/api/contacts' ||
      /^\/api\/groups\/[^/]+\/participants$/.test(path);
    if (!known) return false;
    req.resume();
    reads.push({ path, at: Date.now(), authorized });
    if (!authorized) {
      sendJson(res, 401, { success: false, message: 'API key is required' });
      return true;
    }
    if (path === '/api/status') {
      sendJson(res, 200, { status: sessionStatus });
    } else if (path === '/api/groups') {
      sendJson(res, 200, {
        success: true,
        data: groups.map((g) => ({ id: g.id, name: g.name, imgUrl: null })),
      });
    } else if (path === '/api/contacts') {
      sendJson(res, 200, { success: true, data: contactList });
    } else {
      const jid = decodeURIComponent(path.split('/')[3] ?? '');
      const group = groups.find((g) => g.id === jid);
      if (!group) sendJson(res, 404, { success: false, message: 'Group not found' });
      else
        sendJson(res, 200, {
          success: true,
          data: group.participants.map((p) => ({ id: p.id, admin: p.admin ?? null })),
        });
    }
    return true;
  }

  type MediaFile = { bytes: Uint8Array; mimeType: string; chunked: boolean };
  const mediaById = new Map<string, MediaFile>();
  const mediaByToken = new Map<string, MediaFile>();
  const decryptRequests: unknown[] = [];

  async function fetchUrl(url: string) {
    try {
      const r = await fetch(url);
      return {
        status: r.status,
        contentType: r.headers.get('content-type'),
        bytes: new Uint8Array(await r.arrayBuffer()),
      };
    } catch {
      return { status: 0, contentType: null, bytes: new Uint8Array() };
    }
  }

  async function handleDecrypt(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const raw = await readBody(req);
    let body: unknown = raw;
    try {
      body = JSON.parse(raw);
    } catch {
      // Keep the raw text.
    }
    decryptRequests.push(body);
    if (req.headers.authorization !== `Bearer ${token}`) {
      sendJson(res, 401, { success: false, message: 'API key is required' });
      return;
    }
    const step = steps.shift();
    if (step?.status !== undefined && (step.status < 200 || step.status >= 300)) {
      sendJson(res, step.status, {
        success: false,
        message: step.message ?? `Scripted error ${step.status}`,
      });
      return;
    }
    const messages = (body as { data?: { messages?: { key?: { id?: unknown }; message?: unknown } } })?.data
      ?.messages;
    const id = messages?.key?.id;
    const file = typeof id === 'string' ? mediaById.get(id) : undefined;
    if (!file || typeof messages?.message !== 'object' || messages.message === null) {
      sendJson(res, 404, { success: false, message: 'Media not found' });
      return;
    }
    const mediaToken = randomBytes(8).toString('hex');
    mediaByToken.set(mediaToken, file);
    sendJson(res, 200, { success: true, publicUrl: `${baseUrl}/api/decrypted-media/${mediaToken}` });
  }

  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        timers.delete(timer);
        resolve();
      }, ms);
      timers.add(timer);
    });

  /** Seconds until the oldest send in the window leaves it, or null when there is room. */
  function rateLimitWait(now: number): number | null {
    if (ratePerSecond === null) return null;
    const inWindow = sent.filter((s) => s.at > now - 1000);
    if (inWindow.length < ratePerSecond) return null;
    const oldest = inWindow[inWindow.length - ratePerSecond]?.at ?? now;
    return Math.max(1, Math.ceil((oldest + 1000 - now) / 1000));
  }

  async function handleSend(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const raw = await readBody(req);
    let parsedBody: unknown = raw;
    try {
      parsedBody = JSON.parse(raw);
    } catch {
      // Keep the raw text.
    }
    const authorized = req.headers.authorization === `Bearer ${token}`;
    requests.push({ at: Date.now(), authorized, body: parsedBody });
    if (!authorized) {
      sendJson(res, 401, { success: false, message: 'API key is required' });
      return;
    }

    const step = steps.shift();
    if (step?.delayMs) await sleep(step.delayMs);
    if (step?.gate) await step.gate.catch(() => {});
    if (closed) return;
    if (step?.hang) return;
    if (step?.reset) {
      req.socket.destroy();
      return;
    }
    if (step?.body !== undefined) {
      sendJson(res, step.status ?? 200, step.body);
      return;
    }
    if (step?.status !== undefined && (step.status < 200 || step.status >= 300)) {
      const headers: Record<string, string> = step.retryAfterHeader
        ? { 'retry-after': step.retryAfterHeader }
        : {};
      if (step.status === 429) {
        const retryAfter = step.retryAfter === undefined ? 1 : step.retryAfter;
        sendJson(
          res,
          429,
          {
            message: step.message ?? 'You have exceeded the rate limit.',
            ...(retryAfter === null ? {} : { retry_after: retryAfter }),
          },
          headers,
        );
      } else {
        sendJson(
          res,
          step.status,
          { success: false, message: step.message ?? `Scripted error ${step.status}` },
          headers,
        );
      }
      return;
    }

    const input = parseSend(raw);
    if (!('errors' in input) && input.media) {
      const got = await fetchUrl(input.media.url);
      const record: FakeWasenderSend = {
        to: input.to,
        text: input.text,
        at: Date.now(),
        msgId: step?.msgId ?? nextMsgId++,
        media: { ...input.media, ...got },
      };
      sent.push(record);
      events.emit('send', record);
      sendJson(res, 200, {
        success: true,
        data: { msgId: record.msgId, jid: input.to, status: 'in_progress' },
      });
      return;
    }
    if ('errors' in input) {
      sendJson(res, 422, { success: false, message: 'Validation failed', errors: input.errors });
      return;
    }
    const now = Date.now();
    const wait = rateLimitWait(now);
    if (wait !== null) {
      rejected.push({ to: input.to, text: input.text, at: now, retryAfter: wait });
      sendJson(res, 429, {
        message: `You can only send ${ratePerSecond} messages per second.`,
        retry_after: wait,
      });
      return;
    }
    const msgId = step?.msgId ?? nextMsgId++;
    const record: FakeWasenderSend = {
      to: input.to,
      text: input.text,
      at: now,
      msgId,
      ...(input.mentions ? { mentions: input.mentions } : {}),
    };
    sent.push(record);
    events.emit('send', record);
    sendJson(res, step?.status ?? 200, {
      success: true,
      data: { msgId, jid: input.to, status: 'in_progress' },
    });
  }

  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method === 'POST' && path === '/api/send-message') {
      handleSend(req, res).catch(() => {
        if (!res.headersSent) sendJson(res, 500, { success: false, message: 'fake server error' });
      });
      return;
    }
    if (req.method === 'GET' && handleRead(req, res, path ?? '/')) return;
    if (req.method === 'POST' && path === '/api/decrypt-media') {
      handleDecrypt(req, res).catch(() => {
        if (!res.headersSent) sendJson(res, 500, { success: false, message: 'fake server error' });
      });
      return;
    }
    const decrypted = /^\/api\/decrypted-media\/([0-9a-f]+)$/.exec(path ?? '');
    if (req.method === 'GET' && decrypted) {
      req.resume();
      const file = mediaByToken.get(decrypted[1]!);
      if (!file) {
        sendJson(res, 404, { success: false, message: 'Not found' });
        return;
      }
      if (!file.chunked) {
        res.writeHead(200, { 'content-type': file.mimeType, 'content-length': file.bytes.byteLength });
        res.end(file.bytes);
        return;
      }
      // No Content-Length: the client only learns the size while reading.
      res.writeHead(200, { 'content-type': file.mimeType });
      const step = 64 * 1024;
      let at = 0;
      const pump = () => {
        while (at < file.bytes.byteLength) {
          const chunk = file.bytes.subarray(at, at + step);
          at += step;
          if (!res.write(chunk)) {
            res.once('drain', pump);
            return;
          }
        }
        res.end();
      };
      res.on('error', () => {});
      pump();
      return;
    }
    req.resume();
    sendJson(res, 404, { success: false, message: 'Not found' });
  });

  const port = await listenOnLoopback(server);
  const baseUrl = `http://127.0.0.1:${port}`;

  return {
    url: `http://127.0.0.1:${port}`,
    token,
    sent,
    rejected,
    requests,
    reads,
    script(...next) {
      steps.push(...next);
    },
    setSessionStatus(status) {
      sessionStatus = status;
    },
    setGroups(list) {
      groups = list;
    },
    setContacts(list) {
      contactList = list;
    },
    addMedia(messageId, bytes, mimeType, opts = {}) {
      mediaById.set(messageId, { bytes, mimeType, chunked: opts.chunked ?? false });
    },
    decryptRequests,
    fetchUrl,
    setRatePerSecond(perSecond) {
      if (perSecond !== null && !(Number.isInteger(perSecond) && perSecond > 0)) {
        throw new RangeError('ratePerSecond must be a positive integer or null');
      }
      ratePerSecond = perSecond;
    },
    waitForSends(n, timeoutMs = 5000) {
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
