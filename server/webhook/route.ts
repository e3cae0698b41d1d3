import { timingSafeEqual } from 'node:crypto';
import type { FastifyPluginAsync } from 'fastify';
import type { Pipeline } from '../pipeline';
import { parseWebhook } from './payload';

export interface WebhookOptions {
  pipeline: Pipeline;
  /** WASENDER_WEBHOOK_SECRET; without it every request is refused unless `allowUnsigned`. */
  secret: string | undefined;
  allowUnsigned: boolean;
  bodyLimit: number;
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

/**
 * POST /webhook: WaSender's events. A plain route (not tRPC) in its own plugin, so its JSON parser
 * keeps the raw bytes (for signature schemes over the body) without affecting other routes. The
 * answer comes as soon as the items are stored; replies happen in jobs.
 */
export const webhookRoutes: FastifyPluginAsync<WebhookOptions> = async (app, opts) => {
  app.addContentTypeParser(
    'application/json',
    { parseAs: 'buffer', bodyLimit: opts.bodyLimit },
    (req, body, done) => {
      req.rawBody = body as Buffer;
      done(null, body);
    },
  );

  app.post('/webhook', async (req, reply) => {
    if (opts.secret) {
      const header = req.headers['x-webhook-signature'];
      if (!signatureMatches(Array.isArray(header) ? header[0] : header, opts.secret)) {
        return reply.code(401).send({ error: 'Missing or wrong X-Webhook-Signature' });
      }
    } else if (!opts.allowUnsigned) {
      return reply.code(503).send({ error: 'The webhook is not configured on this server' });
    }

    let body: unknown;
    try {
      body = JSON.parse((req.rawBody ?? Buffer.alloc(0)).toString('utf8'));
    } catch {
      return reply.code(400).send({ error: 'Body is not valid JSON' });
    }
    const parsed = parseWebhook(body);
    if (!parsed.ok) return reply.code(400).send({ error: parsed.error });
    const outcomes = await opts.pipeline.ingest(parsed.items);
    return reply.code(200).send({
      received: true,
      event: parsed.event,
      stored: outcomes.filter((o) => o.kind === 'stored' || o.kind === 'agent').length,
      duplicates: outcomes.filter((o) => o.kind === 'duplicate').length,
      deadLettered: outcomes.filter((o) => o.kind === 'dead-letter').length,
    });
  });
};
