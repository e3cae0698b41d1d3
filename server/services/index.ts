import type { CampaignKicker } from '../campaigns/index';
import type { Config } from '../config';
import type { PipelineDeps } from '../conversation/deps';
import type { LiveSettings } from '../conversation/live-settings';
import type { Database } from '../db/client';
import type { EventStream } from '../events/types';
import type { Knowledge } from '../knowledge';
import { type AuthService, createAuthService } from './auth';
import { type BotService, createBotService } from './bot';
import { type CampaignsService, createCampaignsService } from './campaigns';
import { type CannedResponsesService, createCannedResponsesService } from './canned-responses';
import { type ConversationsService, createConversationsService } from './conversations';
import { type CrmService, createCrmService } from './crm';
import { createDeadLettersService, type DeadLettersService } from './dead-letters';
import { createGatewaySyncService, type GatewaySyncService } from './gateway-sync';
import { createGroupsService, type GroupsService } from './groups';
import { createInboxService, type InboxService } from './inbox';
import { createKnowledgeService, type KnowledgeService } from './knowledge';
import { createRescoreScheduler, qualificationStatus } from './lead-qualification';
import { createLeadsService, type LeadsService } from './leads';
import { createMediaService, type MediaService } from './media';
import { createMessagingService, type MessagingService } from './messaging';
import { createSettingsService, type SettingsService } from './settings';
import { createStaffService, type StaffService } from './staff';
import { createStaffAuthenticator } from './staff-auth';
import { createStatsService, type StatsService } from './stats';
import { createSystemService, integrationFlags, type SystemService, systemProbe } from './system';
import { createTemplatesService, type TemplatesService } from './templates';
import { createVisibility, type Visibility } from './visibility';
import { createWebhooksService, type WebhookDeliveryEngine, type WebhooksService } from './webhooks';

/**
 * Everything the routers may call. Only interfaces appear here (no database types), because this type
 * is part of the tRPC context and so of the sdk's published declarations.
 */
export interface Services {
  auth: AuthService;
  system: SystemService;
  crm: CrmService;
  conversations: ConversationsService;
  /** Media files: signed links, agents sending files. */
  media: MediaService;
  bot: BotService;
  campaigns: CampaignsService;
  leads: LeadsService;
  stats: StatsService;
  /** The events log as a stream: replay after an id, then live (across processes). */
  events: EventStream;
  messaging: MessagingService;
  settings: SettingsService;
  /** Gateway items that could not be handled: list, retry, dismiss (admins). */
  deadLetters: DeadLettersService;
  /** Outbound webhook subscriptions, their delivery log and replays (admins). */
  webhooks: WebhooksService;
  /** The team's people: invitations, roles, availability. */
  staff: StaffService;
  /** The bot's knowledge base: documents, passages and searches. */
  knowledge: KnowledgeService;
  /** Assignment, status, private notes and labels of conversations. */
  inbox: InboxService;
  /** Saved replies with variables. */
  cannedResponses: CannedResponsesService;
  /** WhatsApp Cloud API message templates (sync, list). */
  templates: TemplatesService;
  /** Which conversations a caller may see (AGENT_VISIBILITY). */
  visibility: Visibility;
  /** WhatsApp groups: sync, send now, at a time or as a campaign, members' messages. */
  groups: GroupsService;
  /** Background imports from the gateway (groups, contacts) with their progress. */
  gatewaySync: GatewaySyncService;
}

/** The infrastructure the services run on, built by the runtime. */
export interface ServicesDeps {
  config: Config;
  /** The database handle (the system probe pings it and reports its mode). */
  database: Database;
  /** What the pipeline runs on (database, job queue, gateway, AI client, persona, settings, logger). */
  pipeline: PipelineDeps;
  /** The bot settings the pipeline reads; the settings service keeps them current. */
  live: LiveSettings;
  /** The events log as a stream (the events hub). */
  events: EventStream;
  /** Outbound webhook deliveries: enqueue, wake, one attempt now. */
  webhookEngine: WebhookDeliveryEngine;
  /** Campaign dispatch: wakes a campaign's job now or at its start time. */
  campaignKicker: CampaignKicker;
  /** The knowledge base engine: retrieval and its embedding jobs. */
  knowledge: Knowledge;
}

/** Builds every service once. */
export function createServices(deps: ServicesDeps): Services {
  const { config, database, pipeline } = deps;
  const { db } = database;
  const { defaultRegion } = config;
  const model = pipeline.settings.model;
  const { supabaseUrl, jwtSecret, jwksCooldownMs } = config.signIn;
  const staffAuth =
    supabaseUrl || jwtSecret
      ? createStaffAuthenticator({ db, supabaseUrl, jwtSecret, jwksCooldownMs })
      : undefined;
  const auth = createAuthService({ db, staff: staffAuth });
  const visibility = createVisibility({ db, agentVisibility: config.inbox.agentVisibility });
  const gatewaySync = createGatewaySyncService({ db, queue: pipeline.queue, gateway: pipeline.gateway });
  return {
    auth,
    system: createSystemService({
      probe: systemProbe({
        database,
        queue: pipeline.queue,
        knowledge: deps.knowledge,
        config,
        model,
        gateway: pipeline.gateway,
      }),
      flags: integrationFlags(config),
      persona: pipeline.persona,
      model,
      leadQualification: qualificationStatus({
        openaiConfigured: Boolean(config.openai.apiKey),
        quietMs: config.leads.qualifyQuietMs,
        model: config.leads.qualifyModel ?? model,
      }),
    }),
    crm: createCrmService({
      db,
      defaultRegion,
      rescore: createRescoreScheduler(config.leads.rescoreDelayMs),
    }),
    conversations: createConversationsService({ db, visibility }),
    bot: createBotService({ db, defaultRegion, visibility }),
    campaigns: createCampaignsService({
      db,
      defaultRegion,
      campaigns: {
        ...config.campaigns,
        kicker: deps.campaignKicker,
        gatewayConfigured: pipeline.gateway.configured,
        gatewayName: pipeline.gateway.name,
        sendRatePerMinute: config.pipeline.sendRatePerMinute,
        gatewaySendsMedia: Boolean(pipeline.gateway.sendMedia),
        gatewayFetchesMediaByUrl: Boolean(pipeline.gateway.fetchesMediaByUrl),
        media: pipeline.media,
        sendMaxBytes: config.media.sendMaxBytes,
      },
      copywriter: { ai: pipeline.ai, model: () => pipeline.settings.model },
    }),
    leads: createLeadsService({ db }),
    stats: createStatsService({ db, humanSlaMinutes: config.inbox.humanSlaMinutes }),
    events: deps.events,
    messaging: createMessagingService(pipeline, { visibility, businessName: config.inbox.businessName }),
    media: createMediaService(pipeline, { visibility, sendMaxBytes: config.media.sendMaxBytes }),
    settings: createSettingsService({
      db,
      defaults: {
        replyQuietMs: config.pipeline.replyQuietMs,
        humanQuietMinutes: config.pipeline.humanQuietMinutes,
        storeGroupMessages: false,
      },
      live: deps.live,
    }),
    deadLetters: createDeadLettersService(pipeline),
    webhooks: createWebhooksService({
      db,
      engine: deps.webhookEngine,
      allowPrivate: config.outboundWebhooks.allowPrivate,
    }),
    staff: createStaffService({ db, onChange: () => auth.forgetCallers() }),
    knowledge: createKnowledgeService({ db, knowledge: deps.knowledge }),
    inbox: createInboxService({
      db,
      visibility,
      queue: pipeline.queue,
      humanQuietMinutes: () => pipeline.settings.humanQuietMinutes,
    }),
    cannedResponses: createCannedResponsesService({ db }),
    templates: createTemplatesService({ pipeline }),
    visibility,
    groups: createGroupsService({
      db,
      queue: pipeline.queue,
      gateway: pipeline.gateway,
      sync: gatewaySync,
      media: pipeline.media,
      sendMaxBytes: config.media.sendMaxBytes,
    }),
    gatewaySync,
  };
}
