import { sql } from 'drizzle-orm';
import {
  type AnyPgColumn,
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
import { LEAD_STATUS_VALUES } from '../../server/contracts/crm';
import { createdAt, id, updatedAt } from './_columns';

export const LEAD_STATUSES = LEAD_STATUS_VALUES;
export type LeadStatus = (typeof LEAD_STATUSES)[number];

export interface ScoreBreakdownItem {
  rule: string;
  points: number;
  detail: string;
}

type ContactColumns = {
  name: AnyPgColumn;
  pushName: AnyPgColumn;
  email: AnyPgColumn;
  company: AnyPgColumn;
  phone: AnyPgColumn;
  lastInboundAt: AnyPgColumn;
  createdAt: AnyPgColumn;
};

/**
 * What the dashboard's contact search matches (names, email, company, phone), as one expression so a
 * single trigram index serves it. Queries must use this same expression to use the index.
 */
export const contactSearchText = (t: ContactColumns) =>
  sql<string>`coalesce(${t.name}, '') || ' ' || coalesce(${t.pushName}, '') || ' ' || coalesce(${t.email}, '') || ' ' || coalesce(${t.company}, '') || ' ' || ${t.phone}`;

/** A contact's "recent activity" time: its latest inbound message, else its creation. */
export const contactActivityAt = (t: ContactColumns) =>
  sql<Date>`coalesce(${t.lastInboundAt}, ${t.createdAt})`;

/** A customer known by their E.164 phone number. */
export const contacts = pgTable(
  'contacts',
  {
    id: id(),
    phone: text().notNull(),
    name: text(),
    pushName: text(),
    /** Profile picture URL from the gateway's contact list (crm.contacts.syncFromGateway). */
    pictureUrl: text(),
    email: text(),
    company: text(),
    position: text(),
    leadStatus: text().$type<LeadStatus>().notNull().default('new'),
    leadScore: integer().notNull().default(0),
    scoreBreakdown: jsonb().$type<ScoreBreakdownItem[]>().notNull().default([]),
    scoredAt: timestamp({ withTimezone: true }),
    source: text().notNull().default('whatsapp'),
    tags: text().array().notNull().default(sql`'{}'::text[]`),
    notes: text(),
    optedOutAt: timestamp({ withTimezone: true }),
    lastInboundAt: timestamp({ withTimezone: true }),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
    deletedAt: timestamp({ withTimezone: true }),
  },
  (t) => [
    uniqueIndex('contacts_phone_key').on(t.phone),
    index('contacts_lead_status_idx').on(t.leadStatus),
    index('contacts_tags_idx').using('gin', t.tags),
    index('contacts_last_inbound_idx').on(t.lastInboundAt),
    index('contacts_search_trgm_idx').using('gin', sql`(${contactSearchText(t)}) gin_trgm_ops`),
    index('contacts_activity_idx').on(sql`${contactActivityAt(t)} desc nulls last`, t.id.desc()),
    index('contacts_score_idx').on(t.leadScore.desc(), t.id.desc()),
    // Counting live contacts (and new ones by creation time) from an index, not the wide table.
    index('contacts_live_created_idx').on(t.createdAt).where(sql`${t.deletedAt} is null`),
    index('contacts_deleted_idx').on(t.id).where(sql`${t.deletedAt} is not null`),
    // The dashboard's lead funnel (live contacts by lead status), read from the index alone.
    index('contacts_live_lead_status_idx').on(t.leadStatus).where(sql`${t.deletedAt} is null`),
    check(
      'contacts_lead_status_check',
      sql`${t.leadStatus} in ('new','contacted','qualified','proposal','customer','lost')`,
    ),
    check('contacts_phone_e164_check', sql`${t.phone} ~ '^\\+[1-9][0-9]{6,14}$'`),
  ],
).enableRLS();

export const IDENTITY_KINDS = ['phone', 'lid'] as const;
export type IdentityKind = (typeof IDENTITY_KINDS)[number];

/**
 * The WhatsApp ids a contact has been seen under: the phone JID and the privacy LID.
 * One person writing under either id resolves to the same contact.
 */
export const contactIdentities = pgTable(
  'contact_identities',
  {
    id: id(),
    contactId: uuid()
      .notNull()
      .references(() => contacts.id, { onDelete: 'cascade' }),
    kind: text().$type<IdentityKind>().notNull(),
    value: text().notNull(),
    createdAt: createdAt(),
  },
  (t) => [uniqueIndex('contact_identities_kind_value_key').on(t.kind, t.value), index().on(t.contactId)],
).enableRLS();
