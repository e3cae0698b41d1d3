import { sql } from 'drizzle-orm';
import {
  check,
  index,
  integer,
  jsonb,
  pgTable,
  text,
  timestamp,
  uniqueIndex,
  uuid,
} from 'drizzle-orm/pg-core';
import { CAMPAIGN_STATUS_VALUES, RECIPIENT_STATUS_VALUES } from '../../server/contracts/campaigns';
import { createdAt, id, updatedAt } from './_columns';
import { contacts } from './contacts';
import { messages } from './conversations';

export const CAMPAIGN_STATUSES = CAMPAIGN_STATUS_VALUES;
export type CampaignStatus = (typeof CAMPAIGN_STATUSES)[number];

export interface CampaignAudience {
  contactIds?: string[];
  tags?: string[];
  leadStatuses?: string[];
  phones?: string[];
  /** A pasted list or CSV of numbers: how many data lines it had and the columns read from it. */
  numbers?: { lines: number; columns: string[] };
}

/** What audience resolution found at creation: entries that did not become recipients, and why. */
export interface CampaignAudienceReport {
  invalid: Array<{ line: number | null; value: string; reason: string }>;
  duplicates: Array<{ line: number | null; value: string; reason: string }>;
  /** Totals (the lists above are capped). */
  invalidCount: number;
  duplicateCount: number;
}

/**
 * A campaign's file, stored once in the media store (`out/<uuid>.<ext>`) and shared by every recipient:
 * each recipient's message gets its own `message_media` row pointing at this storage key.
 */
export interface CampaignAttachment {
  kind: 'image' | 'audio' | 'video' | 'document';
  /** Decided from the file's content. */
  mimeType: string;
  fileName: string | null;
  bytes: number;
  sha256: string;
  storageKey: string;
}

export const campaigns = pgTable(
  'campaigns',
  {
    id: id(),
    name: text().notNull(),
    template: text().notNull(),
    variableDefaults: jsonb().$type<Record<string, string>>().notNull().default({}),
    /**
     * Cloud API: the approved template sent to recipients outside the 24-hour window, with its body
     * values (each rendered like the campaign text, e.g. `{{name|there}}`). Null: free-form text only.
     */
    cloudTemplate: jsonb().$type<{ name: string; language: string; variables: string[] }>(),
    audience: jsonb().$type<CampaignAudience>().notNull().default({}),
    /** The file every recipient's message carries, with the rendered text as its caption (null: text only). */
    attachment: jsonb().$type<CampaignAttachment>(),
    status: text().$type<CampaignStatus>().notNull().default('draft'),
    ratePerMinute: integer().notNull().default(20),
    scheduledAt: timestamp({ withTimezone: true }),
    startedAt: timestamp({ withTimezone: true }),
    completedAt: timestamp({ withTimezone: true }),
    pausedReason: text(),
    /** Random spread of the gaps between sends, in percent of the average gap. */
    jitterPercent: integer().notNull().default(20),
    /** Auto-pause: failed share (percent) of the last `failureWindow` send outcomes that pauses the campaign. */
    failureWindow: integer().notNull().default(20),
    failureThresholdPercent: integer().notNull().default(50),
    audienceReport: jsonb()
      .$type<CampaignAudienceReport>()
      .notNull()
      .default({ invalid: [], duplicates: [], invalidCount: 0, duplicateCount: 0 }),
    pausedAt: timestamp({ withTimezone: true }),
    cancelledAt: timestamp({ withTimezone: true }),
    /** The dispatcher currently running this campaign, and until when its claim holds without renewal. */
    leaseOwner: text(),
    leaseUntil: timestamp({ withTimezone: true }),
    createdBy: text(),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [
    index('campaigns_status_idx').on(t.status),
    check(
      'campaigns_status_check',
      sql`${t.status} in ('draft','scheduled','running','paused','completed','cancelled')`,
    ),
  ],
).enableRLS();

export const RECIPIENT_STATUSES = RECIPIENT_STATUS_VALUES;
export type RecipientStatus = (typeof RECIPIENT_STATUSES)[number];

/** One row per recipient of a campaign, with its own status: a recipient is messaged at most once. */
export const campaignRecipients = pgTable(
  'campaign_recipients',
  {
    id: id(),
    campaignId: uuid()
      .notNull()
      .references(() => campaigns.id, { onDelete: 'cascade' }),
    contactId: uuid()
      .notNull()
      .references(() => contacts.id, { onDelete: 'cascade' }),
    phone: text().notNull(),
    status: text().$type<RecipientStatus>().notNull().default('pending'),
    /** Order in the audience; recipients are sent in this order. */
    position: integer().notNull().default(0),
    /** Per-recipient template values (extra CSV columns). */
    variables: jsonb().$type<Record<string, string>>().notNull().default({}),
    attempts: integer().notNull().default(0),
    error: text(),
    /** Machine-readable kind of `error` (rejected, unavailable, unknown, opted_out, cancelled, ...). */
    errorCode: text(),
    renderedText: text(),
    messageId: uuid().references(() => messages.id, { onDelete: 'set null' }),
    claimedAt: timestamp({ withTimezone: true }),
    sentAt: timestamp({ withTimezone: true }),
    /** When the last send attempt ended (sent, failed or skipped); orders the auto-pause window. */
    finishedAt: timestamp({ withTimezone: true }),
    repliedAt: timestamp({ withTimezone: true }),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [
    uniqueIndex('campaign_recipients_campaign_contact_key').on(t.campaignId, t.contactId),
    index('campaign_recipients_campaign_status_position_idx').on(t.campaignId, t.status, t.position),
    index('campaign_recipients_campaign_position_idx').on(t.campaignId, t.position, t.id),
    index('campaign_recipients_sending_idx').on(t.claimedAt).where(sql`${t.status} = 'sending'`),
    index('campaign_recipients_campaign_status_idx').on(t.campaignId, t.status),
    index('campaign_recipients_message_idx').on(t.messageId),
    index('campaign_recipients_contact_idx').on(t.contactId),
  ],
).enableRLS();
