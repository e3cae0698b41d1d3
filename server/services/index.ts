import type { Db } from '../db/types';
import type { EventStream } from '../events/types';
import { type AuthService, createAuthService } from './auth';
import { type BotService, createBotService } from './bot';
import { type CampaignServiceOptions, type CampaignsService, createCampaignsService } from './campaigns';
import { type ConversationsService, createConversationsService } from './conversations';
import { type CrmService, createCrmService } from './crm';
import type { DeadLettersService } from './dead-letters';
import type { KnowledgeService } from './knowledge';
import type { LeadScoringConfig } from './lead-scoring';
import { createLeadsService, type LeadsService } from './leads';
import type { MessagingService } from './messaging';
import type { SettingsService } from './settings';
import { createStatsService, type StatsService } from './stats';
import type { SystemService } from './system';
import type { WebhooksService } from './webhooks';

/**
 * Everything the routers may call. Only interfaces appear here (no database types), because this type
 * is part of the tRPC context and so of the sdk's published declarations.
 */
export interface Services {
  auth: AuthService;
  system: SystemService;
  crm: CrmService;
  conversations: ConversationsService;
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
  /** The bot's knowledge base: documents, passages and searches. */
  knowledge: KnowledgeService;
}

export function createServices(deps: {
  db: Db;
  defaultRegion: string;
  system: SystemService;
  messaging: MessagingService;
  settings: SettingsService;
  events: EventStream;
  deadLetters: DeadLettersService;
  webhooks: WebhooksService;
  knowledge: KnowledgeService;
  leadScoring?: Partial<LeadScoringConfig>;
  /** Campaign settings and the dispatcher's kick (the runtime passes them). */
  campaigns?: CampaignServiceOptions;
}): Services {
  const { db, defaultRegion } = deps;
  return {
    auth: createAuthService({ db }),
    system: deps.system,
    crm: createCrmService({ db, defaultRegion }),
    conversations: createConversationsService({ db }),
    bot: createBotService({ db, defaultRegion }),
    campaigns: createCampaignsService({ db, defaultRegion, campaigns: deps.campaigns }),
    leads: createLeadsService({ db, scoring: deps.leadScoring }),
    stats: createStatsService({ db }),
    events: deps.events,
    messaging: deps.messaging,
    settings: deps.settings,
    deadLetters: deps.deadLetters,
    webhooks: deps.webhooks,
    knowledge: deps.knowledge,
  };
}
