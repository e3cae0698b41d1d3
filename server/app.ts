import { Transform } from 'node:stream';
import cors from '@fastify/cors';
import { type FastifyTRPCPluginOptions, fastifyTRPCPlugin } from '@trpc/server/adapters/fastify';
import Fastify, {
  type FastifyBaseLogger,
  type FastifyError,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
} from 'fastify';
import type { Logger as PinoLogger } from 'pino';
import { API_VERSION, API_VERSION_HEADER } from './contracts/version';
import { AppError } from './errors';
import { closeStreamsOnShutdown } from './events/shutdown';
import { mediaRoutes } from './http/media';
import { openApiRoutes, REST_PREFIX, requestToken } from './http/openapi';
import { createRateLimiter, type RateLimiter } from './http/rate-limit';
import { procedureCount, trpcErrorBody } from './http/trpc-error';
import type { Logger } from './logger';
import type { Runtime } from './runtime';
import type { Caller } from './services/auth';
import { createRequestContext } from './trpc/context';
import { type AppRouter, appRouter } from './trpc/router';
import { webhookRoutes } from './webhook/route';

declare module 'fastify' {
  interface FastifyRequest {
    /** The /trpc caller resolved by the rate limit (undefined: not resolved yet). */
    apiCaller?: Caller | null;
  }
}

export interface AppOptions {
  runtime: Runtime;
  /** The pino instance requests log through (tests pass a silent or capturing one). */
  logger: PinoLogger;
  /** The request counters (tests pass one on a clock they control); a new in-memory one by default. */
  rateLimiter?: RateLimiter;
}

/** The HTTP host: health, readiness, tRPC at /trpc. Built without listening so tests can inject. */
export async function buildApp({ runtime, logger, rateLimiter }: AppOptions): Promise<FastifyInstance> {
  const { config, services } = runtime;
  const app = Fastify({
    loggerInstance: logger as FastifyBaseLogger,
    routerOptions: { maxParamLength: 5000 },
    bodyLimit: config.http.bodyLimit,
    requestTimeout: config.http.requestTimeoutMs,
    connectionTimeout: config.http.requestTimeoutMs,
    return503OnClosing: true,
    trustProxy: trustProxyOption(config.http.trustProxy),
  });

  // Set before any route or plugin, so every plain route inherits it (tRPC masks its own errors).
  app.setErrorHandler(handleError);
  // tRPC and the REST door carry a file as base64 in `conversations.sendMedia`, `campaigns.create` and the group sends: their routes
  // take a body that large (4/3 of MEDIA_SEND_MAX_BYTES plus room for the JSON around it).
  const mediaBodyLimit = Math.max(
    config.http.bodyLimit,
    Math.ceil((config.media.sendMaxBytes * 4) / 3) + 64 * 1024,
  );
  app.addHook('onRoute', (route) => {
    if (/^\/api\/v1\/conversations\/[^/]+\/media$/.test(route.url) || route.url === '/api/v1/campaigns')
      route.bodyLimit = mediaBodyLimit;
    if (route.url.startsWith('/trpc')) {
      // One route serves every procedure: the larger limit, then BODY_LIMIT_BYTES again for calls that
      // name any procedure other than the file-carrying ones.
      route.bodyLimit = mediaBodyLimit;
      const hooks = route.preParsing;
      route.preParsing = [
        ...(Array.isArray(hooks) ? hooks : hooks ? [hooks] : []),
        limitTrpcBody(config.http.bodyLimit),
      ];
    }
  });

  await app.register(cors, {
    origin: config.http.corsOrigins.includes('*') ? true : config.http.corsOrigins,
    methods: ['GET', 'POST', 'PATCH', 'DELETE', 'OPTIONS'],
    allowedHeaders: config.http.corsAllowedHeaders,
    // Browser code reads these from cross-origin answers: the sdk's rate-limit retry and version check.
    exposedHeaders: ['retry-after', API_VERSION_HEADER],
    maxAge: 600,
  });

  const limiter = rateLimiter ?? createRateLimiter();
  const { rateLimitPerMinute: apiMax } = config.http;
  if (apiMax > 0) {
    app.addHook('onRequest', async (req, reply) => {
      if (req.method === 'OPTIONS') return;
      const url = req.url;
      if (url === '/health' || url === '/ready' || url.startsWith('/webhook')) return;
      if (!url.startsWith('/trpc/') && !url.startsWith(`${REST_PREFIX}/`)) {
        if (!spend(limiter, reply, `ip:${req.ip}`, apiMax)) return reply;
        return;
      }
      // Callers without a valid key share one budget per client IP, apart from valid keys. A key not
      // known from a recent lookup is looked up only while that budget lasts, so guessing keys costs
      // the database nothing once the IP is over its limit.
      const anonymous = `anon:${req.ip}`;
      const token = requestToken(req);
      let caller = services.auth.peek(token);
      if (caller === undefined) {
        if (limiter.exhausted(anonymous, apiMax))
          return trpcTooMany(req, reply, limiter.take(anonymous, apiMax));
        // A refused sign-in token counts as an unauthenticated attempt; the call itself answers why
        // (it is not resolved here). Any other failed lookup is left to the tRPC call, which answers
        // it in its own (masked) shape.
        let refused = false;
        caller = await services.auth.authenticate(token).catch((err) => {
          refused = err instanceof AppError;
          return refused ? null : undefined;
        });
        if (refused) {
          const taken = limiter.take(anonymous, apiMax);
          if (!taken.ok) return trpcTooMany(req, reply, taken);
          return;
        }
      }
      if (caller === undefined) return;
      req.apiCaller = caller;
      const cost = url.startsWith('/trpc/') ? procedureCount(url, config.http.maxBatchSize) : 1;
      const bucket = caller ? `${caller.kind === 'staff' ? 'staff' : 'key'}:${caller.id}` : anonymous;
      const taken = limiter.take(bucket, apiMax, cost);
      if (!taken.ok) return trpcTooMany(req, reply, taken);
    });
  }

  app.addHook('onSend', async (_req, reply) => {
    reply.header('x-content-type-options', 'nosniff');
    reply.header('referrer-policy', 'no-referrer');
    reply.header('x-frame-options', 'DENY');
    reply.header(API_VERSION_HEADER, API_VERSION);
  });

  app.get('/health', async () => ({
    status: 'ok' as const,
    apiVersion: API_VERSION,
    integrations: services.system.integrations(),
  }));

  app.get('/ready', async (_req, reply) => {
    const status = await services.system.ready();
    const ready = status.database && status.queue && !status.sendQueue;
    return reply.code(ready ? 200 : 503).send({
      ready,
      database: status.database,
      queue: status.queue,
      ...(status.sendQueue ? { sendQueue: status.sendQueue } : {}),
    });
  });

  await app.register(webhookRoutes, {
    pipeline: runtime.pipeline,
    secret: config.wasender.webhookSecret,
    allowUnsigned: config.wasender.allowUnsigned,
    bodyLimit: config.http.webhookBodyLimit,
    limiter,
    rateLimitPerMinute: config.http.webhookRateLimitPerMinute,
    cloud: { appSecret: config.whatsappCloud.appSecret, verifyToken: config.whatsappCloud.verifyToken },
  });

  closeStreamsOnShutdown(app, runtime.events);

  await app.register(fastifyTRPCPlugin, {
    prefix: '/trpc',
    trpcOptions: {
      router: appRouter,
      maxBatchSize: config.http.maxBatchSize,
      createContext: ({ req, info }) =>
        createRequestContext({
          services,
          log: req.log as unknown as Logger,
          authorization: req.headers.authorization ?? info.connectionParams?.authorization,
          resolved: req.headers.authorization === undefined ? undefined : req.apiCaller,
          // Browsers open streams with a single-use ticket (never a lasting credential in the URL).
          streamTicket:
            info.type === 'subscription' ? (info.connectionParams?.ticket ?? undefined) : undefined,
        }),
      onError({ error, path, ctx }) {
        if (error.code === 'INTERNAL_SERVER_ERROR') {
          (ctx?.log ?? runtime.log).error({ err: error.cause ?? error, path }, 'procedure failed');
        }
      },
    } satisfies FastifyTRPCPluginOptions<AppRouter>['trpcOptions'],
  });

  await app.register(mediaRoutes, { services });

  // REST routes under /api/v1, /openapi.json and the reference page at /docs.
  await app.register(openApiRoutes, { services, version: API_VERSION });

  return app;
}

/**
 * TRUST_PROXY as Fastify takes it. A hop count trusts that many proxies nearest the server, whoever
 * they are (Fastify itself no longer takes a number): right only when every request comes through
 * exactly that many proxies.
 */
function trustProxyOption(
  setting: boolean | number | string[],
): boolean | string[] | ((address: string, hop: number) => boolean) {
  if (typeof setting !== 'number') return setting;
  return setting === 0 ? false : (_address, hop) => hop < setting;
}

/** Spends `cost` of `bucket`; when it is spent already, answers 429 and returns false. */
export function spend(
  limiter: RateLimiter,
  reply: FastifyReply,
  bucket: string,
  max: number,
  cost = 1,
): boolean {
  const taken = limiter.take(bucket, max, cost);
  if (taken.ok) return true;
  tooMany(reply, taken);
  return false;
}

function tooMany(reply: FastifyReply, taken: { retryAfterSeconds: number }): FastifyReply {
  return reply
    .code(429)
    .header('retry-after', String(taken.retryAfterSeconds))
    .send({ error: `Too many requests; retry in ${taken.retryAfterSeconds} s` });
}

/**
 * The 429 of an API request: for /trpc in tRPC's error shape (`TOO_MANY_REQUESTS`), so tRPC clients
 * decode it; for other routes the plain JSON error.
 */
function trpcTooMany(
  req: FastifyRequest,
  reply: FastifyReply,
  taken: { retryAfterSeconds: number },
): FastifyReply {
  if (!req.url.startsWith('/trpc/')) return tooMany(reply, taken);
  const message = `Too many requests; retry in ${taken.retryAfterSeconds} s`;
  return reply
    .code(429)
    .header('retry-after', String(taken.retryAfterSeconds))
    .send(trpcErrorBody(req.url, req.headers['trpc-accept'], 'TOO_MANY_REQUESTS', message));
}

/** Client errors Fastify raises itself (body parsing, size, media type): their own message and status. */
/** The procedures whose input carries a file (base64), allowed the media body limit. */
const FILE_PROCEDURES = new Set([
  'conversations.sendMedia',
  'campaigns.create',
  'groups.send',
  'groups.schedule',
  'groups.campaign',
]);

function bodyTooLarge(): FastifyError {
  return Object.assign(new Error('Request body is too large'), {
    code: 'FST_ERR_CTP_BODY_TOO_LARGE',
    statusCode: 413,
  }) as FastifyError;
}

/**
 * Holds a tRPC call to `limit` bytes unless every procedure it names carries a file: refused at once
 * when Content-Length says more, else counted while the body streams in (chunked bodies included).
 */
function limitTrpcBody(limit: number) {
  return async (req: FastifyRequest, _reply: FastifyReply, payload: NodeJS.ReadableStream) => {
    const path = req.url.slice(req.url.indexOf('/trpc/') + 6).split('?')[0] ?? '';
    let names: string[];
    try {
      names = decodeURIComponent(path).split(',');
    } catch {
      names = [];
    }
    if (names.length > 0 && names.every((n) => FILE_PROCEDURES.has(n))) return payload;
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > limit) throw bodyTooLarge();
    let seen = 0;
    const counted = new Transform({
      transform(chunk: Buffer, _encoding, done) {
        seen += chunk.length;
        if (seen > limit) done(bodyTooLarge());
        else done(null, chunk);
      },
    });
    payload.on('error', (err) => counted.destroy(err));
    return Object.assign(payload.pipe(counted), { receivedEncodedLength: 0 });
  };
}

const CLIENT_MESSAGES: Record<string, string> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'Request body is too large',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'Unsupported media type',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'Request body size did not match Content-Length',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'Body cannot be empty when the content type is JSON',
  FST_ERR_CTP_INVALID_JSON_BODY: 'Body is not valid JSON',
};

/**
 * Every plain route's unexpected failure: a generic 500 to the caller (a database error carries its
 * SQL, parameters, code and host:port), the whole error with its stack in the log. Client errors
 * raised by Fastify's own body handling keep their 4xx status and a plain message.
 */
function handleError(err: FastifyError, req: FastifyRequest, reply: FastifyReply) {
  const status = err.statusCode ?? 500;
  if (status >= 400 && status < 500) {
    const known = err.code ? CLIENT_MESSAGES[err.code] : undefined;
    if (known) return reply.code(status).send({ error: known });
    if (err instanceof SyntaxError && status === 400)
      return reply.code(400).send({ error: 'Body is not valid JSON' });
    if (err.code?.startsWith('FST_')) return reply.code(status).send({ error: 'Bad request' });
  }
  req.log.error({ err }, 'request failed');
  return reply.code(500).send({ error: 'Internal server error' });
}
