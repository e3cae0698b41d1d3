import { createHmac, timingSafeEqual } from 'node:crypto';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import type { RateLimiter } from '../http/rate-limit';
import type { Pipeline } from '../pipeline';
import { parseCloudWebhook } from '../pipeline/cloud-payload';
import { type ParsedWebhook, parseWebhook } from '../pipeline/payload';

export interface WebhookOptions {
  pipeline: Pipeline;
  /** WASENDER_WEBHOOK_SECRET; without it every request is refused unless `allowUnsigned`. */
  secret: string | undefined;
  allowUnsigned: boolean;
  bodyLimit: number;
  /** Counters shared with the rest of the host; `rateLimitPerMinute` 0 turns the limit off. */
  limiter: RateLimiter;
  rateLimitPerMinute: number;
  /** Meta's WhatsApp Cloud API webhook (`/webhook/whatsapp-cloud`). */
  cloud: {
    /** WHATSAPP_CLOUD_APP_SECRET: signs every post (X-Hub-Signature-256); without it posts are refused. */
    appSecret: string | undefined;
    /** WHATSAPP_CLOUD_VERIFY_TOKEN: the subscription handshake's token; without it the handshake fails. */
    verifyToken: string | undefined;
  };
}

declare module 'fastify' {
  interface FastifyRequest {
    rawBody?: Buffer;
  }
}

/** Constant-time comparison; different lengths are a mismatch without comparing contents. */
export function signatureMatches(given: string | undefined, secret: string): boolean {
  if (!given) return false;
  const a = Buffer.from(given, 'utf8');
  const b = Buffer.from(secret, 'utf8');
  return a.length === b.length && timingSafeEqual(a, b);
}

/** Whether `header` is `sha256=<hex>` of the HMAC-SHA256 of `body` under `secret` (constant time). */
export function hubSignatureMatches(header: string | undefined, body: Buffer, secret: string): boolean {
  if (!header) return false;
  const expected = `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
  return signatureMatches(header.trim().toLowerCase(), expected);
}

/** Longest `hub.challenge` echoed back (Meta sends a short number). */
const MAX_CHALLENGE_CHARS = 256;

/**
 * POST /webhook: WaSender's events. A plain route (not tRPC) in its own plugin, so its body parser
 * keeps the raw bytes (for signature schemes over the body) without affecting other routes. The
 * answer comes as soon as the items are stored; replies happen in jobs.
 *
 * The signature is checked before the body is read. Requests per minute and client IP are counted
 * in two buckets, signed and not, so a flood of unsigned posts never spends the gateway's budget.
 * The body is read as JSON whatever its Content-Type says (gateways and proxies label it
 * differently), within the body limit.
 */
export const webhookRoutes: FastifyPluginAsync<WebhookOptions> = async (app, opts) => {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: opts.bodyLimit }, (req, body, done) => {
    req.rawBody = body as Buffer;
    done(null, body);
  });

  const limit = (req: FastifyRequest, reply: FastifyReply, signed: boolean): boolean => {
    const max = opts.rateLimitPerMinute;
    if (max <= 0) return true;
    const taken = opts.limiter.take(`${signed ? 'webhook' : 'webhook-unsigned'}:${req.ip}`, max);
    if (taken.ok) return true;
    reply
      .code(429)
      .header('retry-after', String(taken.retryAfterSeconds))
      .send({ error: `Too many requests; retry in ${taken.retryAfterSeconds} s` });
    return false;
  };

  const verify = async (req: FastifyRequest, reply: FastifyReply) => {
    // The label is not trusted either way: the bytes are read as they came and parsed as JSON below.
    req.headers['content-type'] = 'application/octet-stream';
    if (opts.secret) {
      const header = req.headers['x-webhook-signature'];
      const signed = signatureMatches(Array.isArray(header) ? header[0] : header, opts.secret);
      if (!limit(req, reply, signed)) return reply;
      if (!signed) return reply.code(401).send({ error: 'Missing or wrong X-Webhook-Signature' });
    } else if (!opts.allowUnsigned) {
      if (!limit(req, reply, false)) return reply;
      return reply.code(503).send({ error: 'The webhook is not configured on this server' });
    } else if (!limit(req, reply, true)) {
      return reply;
    }
  };

  /** The body as JSON (a leading BOM allowed); undefined when it is not JSON. */
  const readJson = (req: FastifyRequest): { ok: true; body: unknown } | { ok: false } => {
    try {
      const raw = (req.rawBody ?? Buffer.alloc(0)).toString('utf8');
      return { ok: true, body: JSON.parse(raw.charCodeAt(0) === 0xfeff ? raw.slice(1) : raw) };
    } catch {
      return { ok: false };
    }
  };

  const ingest = async (reply: FastifyReply, parsed: ParsedWebhook) => {
    if (!parsed.ok) return reply.code(400).send({ error: parsed.error });
    const outcomes = await opts.pipeline.ingest(parsed.items);
    return reply.code(200).send({
      received: true,
      event: parsed.event,
      stored: outcomes.filter((o) => o.kind === 'stored' || o.kind === 'agent').length,
      duplicates: outcomes.filter((o) => o.kind === 'duplicate').length,
      deadLettered: outcomes.filter((o) => o.kind === 'dead-letter').length,
    });
  };

  app.post('/webhook', { onRequest: verify, bodyLimit: opts.bodyLimit }, async (req, reply) => {
    const json = readJson(req);
    if (!json.ok) return reply.code(400).send({ error: 'Body is not valid JSON' });
    return ingest(reply, parseWebhook(json.body));
  });

  // Meta's subscription handshake: the verify token must match; the challenge is echoed as text.
  app.get('/webhook/whatsapp-cloud', async (req, reply) => {
    if (!limit(req, reply, false)) return reply;
    const q = (req.query ?? {}) as Record<string, unknown>;
    const one = (v: unknown) =>
      typeof v === 'string' ? v : Array.isArray(v) && typeof v[0] === 'string' ? v[0] : '';
    const mode = one(q['hub.mode']);
    const token = one(q['hub.verify_token']);
    const challenge = one(q['hub.challenge']);
    const { verifyToken } = opts.cloud;
    const ok =
      mode === 'subscribe' &&
      verifyToken !== undefined &&
      signatureMatches(token, verifyToken) &&
      challenge !== '' &&
      challenge.length <= MAX_CHALLENGE_CHARS;
    if (!ok) return reply.code(403).type('text/plain; charset=utf-8').send('Verification failed');
    return reply.code(200).type('text/plain; charset=utf-8').send(challenge);
  });

  // Meta signs the raw body: the check runs once it is read (within the body limit), before the JSON parse.
  const verifyCloud = async (req: FastifyRequest, reply: FastifyReply) => {
    const { appSecret } = opts.cloud;
    if (appSecret) {
      const header = req.headers['x-hub-signature-256'];
      const signed = hubSignatureMatches(
        Array.isArray(header) ? header[0] : header,
        req.rawBody ?? Buffer.alloc(0),
        appSecret,
      );
      if (!limit(req, reply, signed)) return reply;
      if (!signed) return reply.code(401).send({ error: 'Missing or wrong X-Hub-Signature-256' });
    } else if (!opts.allowUnsigned) {
      if (!limit(req, reply, false)) return reply;
      return reply
        .code(503)
        .send({ error: 'The WhatsApp Cloud API webhook is not configured on this server' });
    } else if (!limit(req, reply, true)) {
      return reply;
    }
  };

  app.post(
    '/webhook/whatsapp-cloud',
    {
      onRequest: async (req) => {
        req.headers['content-type'] = 'application/octet-stream';
      },
      preHandler: verifyCloud,
      bodyLimit: opts.bodyLimit,
    },
    async (req, reply) => {
      const json = readJson(req);
      if (!json.ok) return reply.code(400).send({ error: 'Body is not valid JSON' });
      return ingest(reply, parseCloudWebhook(json.body));
    },
  );
};
