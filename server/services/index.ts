import type { Db } from '../db/types';
import type { EventStream } from '../events/types';
import type { JobQueue } from '../jobs/queue';
import { type AuthService, createAuthService } from './auth';
import { type BotService, createBotService } from './bot';
import { type CampaignServiceOptions, type CampaignsService, createCampaignsService } from './campaigns';
import { type CannedResponsesService, createCannedResponsesService } from './canned-responses';
import { type ConversationsService, createConversationsService } from './conversations';
import { type CrmService, createCrmService } from './crm';
import type { DeadLettersService } from './dead-letters';
import { createInboxService, type InboxService } from './inbox';
import type { LeadScoringConfig } from './lead-scoring';
import { createLeadsService, type LeadsService } from './leads';
import type { MessagingService } from './messaging';
import type { SettingsService } from './settings';
import { createStaffService, type StaffService } from './staff';
import { createStaffAuthenticator, type StaffAuthOptions } from './staff-auth';
import { createStatsService, type StatsService } from './stats';
import type { SystemService } from './system';
import { createVisibility, type Visibility } from './visibility';
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
  /** The team's people: invitations, roles, availability. */
  staff: StaffService;
  /** Assignment, status, private notes and labels of conversations. */
  inbox: InboxService;
  /** Saved replies with variables. */
  cannedResponses: CannedResponsesService;
  /** Which conversations a caller may see (AGENT_VISIBILITY). */
  visibility: Visibility;
}

/** Team inbox settings (config.inbox); absent: every agent sees everything, a 15-minute SLA. */
export interface InboxOptions {
  agentVisibility: 'all' | 'assigned';
  humanSlaMinutes: number;
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
  leadScoring?: Partial<LeadScoringConfig>;
  /** Campaign settings and the dispatcher's kick (the runtime passes them). */
  campaigns?: CampaignServiceOptions;
  /** Supabase sign-in (absent or empty: sign-in tokens are refused, API keys only). */
  signIn?: StaffAuthOptions;
  inbox?: InboxOptions;
  /** Built by the runtime when messaging needs it too; else made here from `inbox`. */
  visibility?: Visibility;
  /** The job queue (snooze wake-ups); absent: snoozing is refused. */
  queue?: JobQueue;
  /** The pipeline's live quiet time (resolving hands the conversation back to the bot). */
  humanQuietMinutes?: () => number;
}): Services {
  const { db, defaultRegion } = deps;
  const visibility =
    deps.visibility ?? createVisibility({ db, agentVisibility: deps.inbox?.agentVisibility ?? 'all' });
  const signIn = deps.signIn;
  const staffAuth =
    signIn?.supabaseUrl || signIn?.jwtSecret ? createStaffAuthenticator({ db, ...signIn }) : undefined;
  const auth = createAuthService({ db, staff: staffAuth });
  return {
    auth,
    system: deps.system,
    crm: createCrmService({ db, defaultRegion }),
    conversations: createConversationsService({ db, visibility }),
    bot: createBotService({ db, defaultRegion, visibility }),
    campaigns: createCampaignsService({ db, defaultRegion, campaigns: deps.campaigns }),
    leads: createLeadsService({ db, scoring: deps.leadScoring }),
    stats: createStatsService({ db, humanSlaMinutes: deps.inbox?.humanSlaMinutes }),
    events: deps.events,
    messaging: deps.messaging,
    settings: deps.settings,
    deadLetters: deps.deadLetters,
    webhooks: deps.webhooks,
    staff: createStaffService({ db, onChange: () => auth.forgetCallers() }),
    inbox: createInboxService({
      db,
      visibility,
      queue: deps.queue,
      humanQuietMinutes: deps.humanQuietMinutes ?? (() => 30),
    }),
    cannedResponses: createCannedResponsesService({ db }),
    visibility,
  };
}
