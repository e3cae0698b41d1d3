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
import { createdAt, id, updatedAt } from './_columns';
import { contacts } from './contacts';
import { messages } from './conversations';

export const CAMPAIGN_STATUSES = [
  'draft',
  'scheduled',
  'running',
  'paused',
  'completed',
  'cancelled',
] as const;
export type CampaignStatus = (typeof CAMPAIGN_STATUSES)[number];

export interface CampaignAudience {
  contactIds?: string[];
  tags?: string[];
  leadStatuses?: string[];
  phones?: string[];
}

export const campaigns = pgTable(
  'campaigns',
  {
    id: id(),
    name: text().notNull(),
    template: text().notNull(),
    variableDefaults: jsonb().$type<Record<string, string>>().notNull().default({}),
    audience: jsonb().$type<CampaignAudience>().notNull().default({}),
    status: text().$type<CampaignStatus>().notNull().default('draft'),
    ratePerMinute: integer().notNull().default(20),
    scheduledAt: timestamp({ withTimezone: true }),
    startedAt: timestamp({ withTimezone: true }),
    completedAt: timestamp({ withTimezone: true }),
    pausedReason: text(),
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

export const RECIPIENT_STATUSES = [
  'pending',
  'sending',
  'sent',
  'delivered',
  'read',
  'failed',
  'skipped',
] as const;
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
    attempts: integer().notNull().default(0),
    error: text(),
    renderedText: text(),
    messageId: uuid().references(() => messages.id, { onDelete: 'set null' }),
    claimedAt: timestamp({ withTimezone: true }),
    sentAt: timestamp({ withTimezone: true }),
    repliedAt: timestamp({ withTimezone: true }),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [
    uniqueIndex('campaign_recipients_campaign_contact_key').on(t.campaignId, t.contactId),
    index('campaign_recipients_campaign_status_idx').on(t.campaignId, t.status),
    index('campaign_recipients_message_idx').on(t.messageId),
  ],
).enableRLS();
