import { type CampaignDispatcher, createCampaignDispatcher } from './campaigns';
import type { Config } from './config';
import { type Database, openDatabase } from './db/client';
import { runMigrations } from './db/migrate';
import { countOpenDeadLetters } from './db/queries/dead-letters';
import * as systemQueries from './db/queries/system';
import { subscriptionHealth } from './db/queries/webhooks';
import { createEventHub, type EventHub } from './events/hub';
import { createAiClient } from './integrations/ai';
import { createOpenAICheck } from './integrations/openai-check';
import { createWasenderGateway } from './integrations/wasender';
import { createOutboundWebhooks, type OutboundWebhooks } from './jobs/outbound-webhooks';
import { type JobQueue, startJobQueue } from './jobs/queue';
import type { Logger } from './logger';
import type { Persona } from './persona';
import { createPipeline, definePipelineQueues, type Pipeline } from './pipeline';
import { sendQueueStatus } from './pipeline/send';
import { createServices, type Services } from './services';
import { createDeadLettersService } from './services/dead-letters';
import { defineInboxQueues, startInboxWorkers } from './services/inbox';
import { defineLeadsQueues, startLeadsWorkers } from './services/leads';
import { createMessagingService } from './services/messaging';
import { createSettingsService } from './services/settings';
import { createSystemService } from './services/system';
import { createVisibility } from './services/visibility';
import { createWebhooksService } from './services/webhooks';

/** The parts of a running server, built in one place for main.ts, scripts and tests. */
export interface Runtime {
  config: Config;
  persona: Persona;
  database: Database;
  queue: JobQueue;
  services: Services;
  pipeline: Pipeline;
  /** Campaign dispatch: its job queue, workers and sweep. */
  campaigns: CampaignDispatcher;
  /** Fans the events log out to subscriptions; ends them on close. */
  events: EventHub;
  /** Outbound webhooks: the events-log fan-out and the delivery jobs. */
  webhooks: OutboundWebhooks;
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
  /** Embedded data folder held by another live process: refuse (default) or attach to its engine. */
  whenDataDirInUse?: 'refuse' | 'attach';
}

export async function createRuntime(opts: RuntimeOptions): Promise<Runtime> {
  const { config, persona, log } = opts;
  const database = await openDatabase({
    ...config.database,
    loadDataDir: opts.loadDataDir,
    whenInUse: opts.whenDataDirInUse,
  });
  try {
    await runMigrations(database);
    const queue = await startJobQueue(database, log.child({ component: 'jobs' }), {
      supervise: opts.workers,
      maintenanceSeconds: config.jobMaintenanceSeconds,
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
        queueBacklog: () => systemQueries.queueBacklog(database.db),
        sendQueue: () => sendQueueStatus(database.db, config.pipeline),
        openDeadLetters: () => countOpenDeadLetters(database.db),
        outboundWebhooks: () => subscriptionHealth(database.db),
        sessionStatus: async () => {
          const row = await systemQueries.getSystemState(database.db, systemQueries.SESSION_STATE_KEY);
          const status = row?.value.status;
          return row && typeof status === 'string' ? { status, at: row.updatedAt } : null;
        },
        checkOpenAI: config.openai.apiKey
          ? createOpenAICheck({
              apiKey: config.openai.apiKey,
              baseUrl: config.openai.baseUrl,
              model: config.openai.model ?? persona.model.name,
            })
          : null,
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
    // The pipeline reads its quiet times from `live`, kept current from the settings table.
    const settings = createSettingsService({
      db: database.db,
      defaults: {
        replyQuietMs: config.pipeline.replyQuietMs,
        humanQuietMinutes: config.pipeline.humanQuietMinutes,
      },
      live: pipeline.deps.settings,
    });
    await settings.refresh();
    const settingsTimer = setInterval(() => {
      settings.refresh().catch((err) => log.warn({ err }, 'could not refresh settings'));
    }, 10_000);
    settingsTimer.unref();
    await definePipelineQueues(pipeline.deps);
    if (opts.workers) await pipeline.startWorkers();
    const campaigns = createCampaignDispatcher({
      db: database.db,
      queue,
      gateway: pipeline.deps.gateway,
      log: log.child({ component: 'campaigns' }),
      settings: {
        ...config.campaigns,
        sendRatePerMinute: config.pipeline.sendRatePerMinute,
        gatewayTimeoutMs: config.wasender.timeoutMs,
        gatewayRetryAfterMaxSeconds: config.pipeline.gatewayRetryAfterMaxSeconds,
        defaultRegion: config.defaultRegion,
      },
    });
    await campaigns.defineQueues();
    if (opts.workers) await campaigns.startWorkers();
    // Lead rescore runs (leads.rescore): a durable job per run.
    await defineLeadsQueues(queue);
    const leadsWorkers = opts.workers
      ? await startLeadsWorkers({ db: database.db, queue, log: log.child({ component: 'leads' }) })
      : null;
    const webhooks = createOutboundWebhooks({
      db: database.db,
      sql: database.sql,
      mode: database.mode,
      queue,
      log: log.child({ component: 'webhooks' }),
      settings: config.outboundWebhooks,
    });
    await webhooks.defineQueues();
    if (opts.workers) await webhooks.startWorkers();
    // Snooze wake-ups (conversations.setStatus): a durable job per snooze.
    await defineInboxQueues(queue);
    if (opts.workers)
      await startInboxWorkers({ db: database.db, queue, log: log.child({ component: 'inbox' }) });
    const visibility = createVisibility({ db: database.db, agentVisibility: config.inbox.agentVisibility });
    const events = createEventHub({ database, log: log.child({ component: 'events' }) });
    await events.start();
    const services = createServices({
      db: database.db,
      defaultRegion: config.defaultRegion,
      system,
      messaging: createMessagingService(pipeline.deps, {
        visibility,
        businessName: config.inbox.businessName,
      }),
      deadLetters: createDeadLettersService(pipeline.deps),
      webhooks: createWebhooksService({
        db: database.db,
        engine: webhooks,
        allowPrivate: config.outboundWebhooks.allowPrivate,
      }),
      settings,
      events,
      signIn: config.signIn,
      inbox: config.inbox,
      visibility,
      queue,
      humanQuietMinutes: () => pipeline.deps.settings.humanQuietMinutes,
      campaigns: {
        ...config.campaigns,
        kicker: campaigns,
        gatewayConfigured: pipeline.deps.gateway.configured,
        sendRatePerMinute: config.pipeline.sendRatePerMinute,
      },
    });
    let closed = false;
    return {
      config,
      persona,
      database,
      queue,
      services,
      pipeline,
      campaigns,
      events,
      webhooks,
      log,
      async close() {
        if (closed) return;
        closed = true;
        clearInterval(settingsTimer);
        await events.close();
        pipeline.stop();
        campaigns.stop();
        leadsWorkers?.stop();
        await webhooks.stop();
        await queue.stop({ timeoutMs: config.http.shutdownTimeoutMs });
        await database.close();
      },
    };
  } catch (err) {
    await database.close().catch(() => {});
    throw err;
  }
}
