import { type CampaignDispatcher, createCampaignDispatcher } from './campaigns';
import type { Config } from './config';
import { createLiveSettings, withLiveSettings } from './conversation/live-settings';
import { type Database, openDatabase } from './db/client';
import { runMigrations } from './db/migrate';
import { createEventHub, type EventHub } from './events/hub';
import { createAiClient } from './integrations/ai';
import { createEmbeddingsClient } from './integrations/embeddings';
import type { Gateway } from './integrations/gateway';
import {
  createLocalMediaStore,
  createMediaLinks,
  createS3MediaStore,
  mediaSigningKey,
} from './integrations/media-store';
import { createStructuredClient } from './integrations/structured';
import { createTranscriber } from './integrations/transcription';
import { createWasenderGateway } from './integrations/wasender';
import { createWhatsappCloudGateway } from './integrations/whatsapp-cloud';
import { createOutboundWebhooks, type OutboundWebhooks } from './jobs/outbound-webhooks';
import { type JobQueue, startJobQueue } from './jobs/queue';
import { createKnowledge, type Knowledge } from './knowledge';
import type { Logger } from './logger';
import type { Persona } from './persona';
import { createPipeline, definePipelineQueues, type Pipeline } from './pipeline';
import { createServices, type Services } from './services';
import { createBotToolsService } from './services/bot-tools';
import { defineGatewaySyncQueues, QUEUE_GATEWAY_SYNC, runGatewaySync } from './services/gateway-sync';
import { defineGroupsQueues, startGroupsWorkers } from './services/groups';
import { defineInboxQueues, startInboxWorkers } from './services/inbox';
import { createLeadQualification, type LeadQualification } from './services/lead-qualification';
import { defineLeadsQueues, startLeadsWorkers } from './services/leads';

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
  /** The knowledge base: retrieval and its embedding jobs. */
  knowledge: Knowledge;
  /** Lead assessments after quiet conversations, and the per-contact score jobs. */
  leadQualification: LeadQualification;
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

/** The gateway GATEWAY names (WaSender by default, or Meta's WhatsApp Cloud API). */
export function createGateway(config: Config): Gateway {
  if (config.gateway === 'whatsapp-cloud') {
    const c = config.whatsappCloud;
    return createWhatsappCloudGateway({
      baseUrl: c.baseUrl,
      apiVersion: c.apiVersion,
      phoneNumberId: c.phoneNumberId,
      wabaId: c.wabaId,
      accessToken: c.accessToken,
      timeoutMs: config.wasender.timeoutMs,
    });
  }
  return createWasenderGateway({
    baseUrl: config.wasender.baseUrl,
    apiToken: config.wasender.apiToken,
    timeoutMs: config.wasender.timeoutMs,
  });
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
    const knowledge = createKnowledge({
      db: database.db,
      queue,
      embeddings: createEmbeddingsClient({
        apiKey: config.openai.apiKey,
        baseUrl: config.openai.baseUrl,
        timeoutMs: config.openai.timeoutMs,
        model: config.openai.embeddingModel,
        dimensions: config.openai.embeddingDimensions,
      }),
      settings: config.knowledge,
      log: log.child({ component: 'knowledge' }),
    });
    await knowledge.init();
    const model = config.openai.model ?? persona.model.name;
    // The bot settings an admin may change at run time: the settings service writes them, the pipeline reads them.
    const live = createLiveSettings({
      replyQuietMs: config.pipeline.replyQuietMs,
      humanQuietMinutes: config.pipeline.humanQuietMinutes,
      storeGroupMessages: false,
    });
    const mediaStore = config.media.s3
      ? createS3MediaStore(config.media.s3)
      : createLocalMediaStore(config.media.dir);
    const mediaLinks = createMediaLinks({
      key: await mediaSigningKey(config.media.signingSecret, config.database.dataDir),
      ttlSeconds: config.media.urlTtlSeconds,
      publicBaseUrl: config.media.publicBaseUrl,
    });
    // Lead assessments after a quiet conversation, and the stored score kept current (docs/leads.md).
    const leadQualification = createLeadQualification({
      db: database.db,
      queue,
      ai: createStructuredClient({
        apiKey: config.openai.apiKey,
        baseUrl: config.openai.baseUrl,
        timeoutMs: config.openai.timeoutMs,
      }),
      settings: {
        qualifyQuietMs: config.leads.qualifyQuietMs,
        qualifyTaskScore: config.leads.qualifyTaskScore,
        model: config.leads.qualifyModel ?? model,
        rescoreDelayMs: config.leads.rescoreDelayMs,
      },
      log: log.child({ component: 'leads' }),
    });
    const pipeline = createPipeline({
      db: database.db,
      queue,
      gateway: createGateway(config),
      ai: createAiClient({
        apiKey: config.openai.apiKey,
        baseUrl: config.openai.baseUrl,
        timeoutMs: config.openai.timeoutMs,
      }),
      persona,
      settings: withLiveSettings(
        { ...config.pipeline, model, defaultRegion: config.defaultRegion, storeGroupMessages: false },
        live,
      ),
      log: log.child({ component: 'pipeline' }),
      knowledge,
      // The model tools that keep the CRM of the conversation's contact, with the bot as actor.
      tools: createBotToolsService({ db: database.db, log: log.child({ component: 'bot-tools' }) }),
      media: {
        store: mediaStore,
        links: mediaLinks,
        maxBytes: config.media.maxBytes,
        transcriber: createTranscriber({
          apiKey: config.openai.apiKey,
          baseUrl: config.openai.baseUrl,
          timeoutMs: config.openai.timeoutMs,
          model: config.media.transcriptionModel,
        }),
      },
      afterCustomerMessage: (conversationId) => leadQualification.afterCustomerMessage(conversationId),
    });
    await definePipelineQueues(pipeline.deps);
    const campaigns = createCampaignDispatcher({
      db: database.db,
      queue,
      gateway: pipeline.deps.gateway,
      media: pipeline.deps.media,
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
    // Lead rescore runs (leads.rescore): a durable job per run.
    await defineLeadsQueues(queue);
    await leadQualification.defineQueues();
    const webhooks = createOutboundWebhooks({
      db: database.db,
      sql: database.sql,
      mode: database.mode,
      queue,
      log: log.child({ component: 'webhooks' }),
      settings: config.outboundWebhooks,
    });
    await webhooks.defineQueues();
    await knowledge.defineQueues();
    // Snooze wake-ups (conversations.setStatus): a durable job per snooze.
    await defineInboxQueues(queue);
    // Group sends and gateway imports (groups, contacts): durable jobs.
    await defineGroupsQueues(queue, config.pipeline.sendJobTimeoutSeconds);
    await defineGatewaySyncQueues(queue);
    const events = createEventHub({ database, log: log.child({ component: 'events' }) });
    await events.start();
    const services = createServices({
      config,
      database,
      pipeline: pipeline.deps,
      live,
      events,
      webhookEngine: webhooks,
      campaignKicker: campaigns,
      knowledge,
    });
    // Workers start once the stored settings are loaded, so the first reply job already uses them.
    await services.settings.refresh();
    let leadsWorkers: { stop(): void } | null = null;
    let groupsWorkers: { stop(): void } | null = null;
    if (opts.workers) {
      await pipeline.startWorkers();
      await campaigns.startWorkers();
      leadsWorkers = await startLeadsWorkers({
        db: database.db,
        queue,
        log: log.child({ component: 'leads' }),
      });
      await webhooks.startWorkers();
      await knowledge.startWorkers();
      await leadQualification.startWorkers();
      await startInboxWorkers({ db: database.db, queue, log: log.child({ component: 'inbox' }) });
      const groupsLog = log.child({ component: 'groups' });
      groupsWorkers = await startGroupsWorkers(
        { ...pipeline.deps, log: groupsLog },
        (syncId, signal) =>
          runGatewaySync({ db: database.db, gateway: pipeline.deps.gateway, log: groupsLog }, syncId, signal),
        QUEUE_GATEWAY_SYNC,
      );
    }
    const settingsTimer = setInterval(() => {
      services.settings.refresh().catch((err) => log.warn({ err }, 'could not refresh settings'));
    }, 10_000);
    settingsTimer.unref();
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
      knowledge,
      leadQualification,
      log,
      async close() {
        if (closed) return;
        closed = true;
        clearInterval(settingsTimer);
        await events.close();
        pipeline.stop();
        campaigns.stop();
        leadsWorkers?.stop();
        groupsWorkers?.stop();
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
