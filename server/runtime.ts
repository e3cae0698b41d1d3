import type { Config } from './config';
import { type Database, openDatabase } from './db/client';
import { runMigrations } from './db/migrate';
import { createEventHub, type EventHub } from './events/hub';
import { createAiClient } from './integrations/ai';
import { createWasenderGateway } from './integrations/wasender';
import { type JobQueue, startJobQueue } from './jobs/queue';
import type { Logger } from './logger';
import type { Persona } from './persona';
import { createPipeline, definePipelineQueues, type Pipeline } from './pipeline';
import { createServices, type Services } from './services';
import { createMessagingService } from './services/messaging';
import { createSystemService } from './services/system';

/** The parts of a running server, built in one place for main.ts, scripts and tests. */
export interface Runtime {
  config: Config;
  persona: Persona;
  database: Database;
  queue: JobQueue;
  services: Services;
  pipeline: Pipeline;
  /** Fans the events log out to subscriptions; ends them on close. */
  events: EventHub;
  log: Logger;
  close(): Promise<void>;
}

export interface RuntimeOptions {
  config: Config;
  persona: Persona;
  log: Logger;
  /** Start job workers in this process (false for the `web` role and for one-off scripts). */
  workers: boolean;
  /** Embedded database only: start from this data-folder snapshot. */
  loadDataDir?: Blob;
}

export async function createRuntime(opts: RuntimeOptions): Promise<Runtime> {
  const { config, persona, log } = opts;
  const database = await openDatabase({ ...config.database, loadDataDir: opts.loadDataDir });
  try {
    await runMigrations(database);
    const queue = await startJobQueue(database, log.child({ component: 'jobs' }), {
      supervise: opts.workers,
    });
    const system = createSystemService({
      probe: {
        databaseMode: database.mode,
        pingDatabase: async () => {
          try {
            await database.sql`select 1`;
            return true;
          } catch {
            return false;
          }
        },
        pingQueue: () => queue.ping(),
      },
      flags: {
        openaiKey: Boolean(config.openai.apiKey),
        wasenderToken: Boolean(config.wasender.apiToken),
        webhookSecret: Boolean(config.wasender.webhookSecret),
        allowUnsigned: config.wasender.allowUnsigned,
      },
      persona,
      model: config.openai.model ?? persona.model.name,
    });
    const pipeline = createPipeline({
      db: database.db,
      queue,
      gateway: createWasenderGateway({
        baseUrl: config.wasender.baseUrl,
        apiToken: config.wasender.apiToken,
        timeoutMs: config.wasender.timeoutMs,
      }),
      ai: createAiClient({
        apiKey: config.openai.apiKey,
        baseUrl: config.openai.baseUrl,
        timeoutMs: config.openai.timeoutMs,
      }),
      persona,
      settings: {
        ...config.pipeline,
        model: config.openai.model ?? persona.model.name,
        defaultRegion: config.defaultRegion,
      },
      log: log.child({ component: 'pipeline' }),
    });
    await definePipelineQueues(pipeline.deps);
    if (opts.workers) await pipeline.startWorkers();
    const events = createEventHub({ database, log: log.child({ component: 'events' }) });
    await events.start();
    const services = createServices({
      db: database.db,
      defaultRegion: config.defaultRegion,
      system,
      messaging: createMessagingService(pipeline.deps),
      events,
    });
    let closed = false;
    return {
      config,
      persona,
      database,
      queue,
      services,
      pipeline,
      events,
      log,
      async close() {
        if (closed) return;
        closed = true;
        await events.close();
        pipeline.stop();
        await queue.stop({ timeoutMs: config.http.shutdownTimeoutMs });
        await database.close();
      },
    };
  } catch (err) {
    await database.close().catch(() => {});
    throw err;
  }
}
