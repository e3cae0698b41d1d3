import { createHash } from 'node:crypto';
import cors from '@fastify/cors';
import rateLimit from '@fastify/rate-limit';
import { type FastifyTRPCPluginOptions, fastifyTRPCPlugin } from '@trpc/server/adapters/fastify';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Logger as PinoLogger } from 'pino';
import { closeStreamsOnShutdown } from './events/shutdown';
import type { Logger } from './logger';
import type { Runtime } from './runtime';
import { createRequestContext } from './trpc/context';
import { type AppRouter, appRouter } from './trpc/router';
import { webhookRoutes } from './webhook/route';

export interface AppOptions {
  runtime: Runtime;
  /** The pino instance requests log through (tests pass a silent or capturing one). */
  logger: PinoLogger;
}

/** The HTTP host: health, readiness, tRPC at /trpc. Built without listening so tests can inject. */
export async function buildApp({ runtime, logger }: AppOptions): Promise<FastifyInstance> {
  const { config, services } = runtime;
  const app = Fastify({
    loggerInstance: logger as FastifyBaseLogger,
    routerOptions: { maxParamLength: 5000 },
    bodyLimit: config.http.bodyLimit,
    requestTimeout: config.http.requestTimeoutMs,
    connectionTimeout: config.http.requestTimeoutMs,
    return503OnClosing: true,
  });

  await app.register(cors, {
    origin: config.http.corsOrigins.includes('*') ? true : config.http.corsOrigins,
    methods: ['GET', 'POST', 'OPTIONS'],
    allowedHeaders: ['content-type', 'authorization', 'trpc-accept', 'last-event-id'],
    maxAge: 600,
  });

  const { rateLimitPerMinute: apiMax, webhookRateLimitPerMinute: webhookMax } = config.http;
  if (apiMax > 0 || webhookMax > 0) {
    // In-memory counters per process: each process of a scaled-out deployment counts on its own.
    await app.register(rateLimit, {
      global: true,
      timeWindow: 60_000,
      max: (req) => (req.url.startsWith('/webhook') ? webhookMax : apiMax) || 1_000_000_000,
      keyGenerator: (req) => {
        const auth = req.headers.authorization;
        if (auth && !req.url.startsWith('/webhook')) {
          return `key:${createHash('sha256').update(auth).digest('hex').slice(0, 32)}`;
        }
        return `ip:${req.ip}`;
      },
      allowList: (req) => req.url === '/health' || req.url === '/ready',
    });
  }

  app.addHook('onSend', async (_req, reply) => {
    reply.header('x-content-type-options', 'nosniff');
    reply.header('referrer-policy', 'no-referrer');
    reply.header('x-frame-options', 'DENY');
  });

  app.get('/health', async () => ({
    status: 'ok' as const,
    integrations: services.system.integrations(),
  }));

  app.get('/ready', async (_req, reply) => {
    const status = await services.system.ready();
    const ready = status.database && status.queue;
    return reply.code(ready ? 200 : 503).send({ ready, database: status.database, queue: status.queue });
  });

  await app.register(webhookRoutes, {
    pipeline: runtime.pipeline,
    secret: config.wasender.webhookSecret,
    allowUnsigned: config.wasender.allowUnsigned,
    bodyLimit: config.http.webhookBodyLimit,
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
        }),
      onError({ error, path, ctx }) {
        if (error.code === 'INTERNAL_SERVER_ERROR') {
          (ctx?.log ?? runtime.log).error({ err: error.cause ?? error, path }, 'procedure failed');
        }
      },
    } satisfies FastifyTRPCPluginOptions<AppRouter>['trpcOptions'],
  });

  return app;
}
