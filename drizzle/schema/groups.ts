import { sql } from 'drizzle-orm';
import {
  check,
  index,
  integer,
  jsonb,
  pgTable,
  real,
  text,
  timestamp,
  uniqueIndex,
  uuid,
} from 'drizzle-orm/pg-core';
import { createdAt, id, updatedAt } from './_columns';
import type { CampaignAttachment } from './campaigns';

export interface GroupParticipant {
  jid: string;
  /** E.164 with a leading `+`, when the gateway gave a phone number. */
  phone: string | null;
  admin: boolean;
}

/** A WhatsApp group the connected number belongs to, as the gateway last listed it (`groups.sync`). */
export const waGroups = pgTable(
  'wa_groups',
  {
    id: id(),
    /** The group's JID (`…@g.us`). */
    jid: text().notNull(),
    name: text(),
    participants: jsonb().$type<GroupParticipant[]>().notNull().default([]),
    participantCount: integer().notNull().default(0),
    /** When the last sync saw it; a group the gateway no longer lists keeps its row with an older time. */
    syncedAt: timestamp({ withTimezone: true }).notNull().defaultNow(),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [uniqueIndex('wa_groups_jid_key').on(t.jid), index('wa_groups_name_idx').on(t.name)],
).enableRLS();

export const GROUP_SEND_STATUSES = ['scheduled', 'queued', 'sending', 'sent', 'failed', 'cancelled'] as const;
export type GroupSendStatus = (typeof GROUP_SEND_STATUSES)[number];

/**
 * One message to one group (text, or a file with the text as its caption): sent now (`groups.send`), at a time (`groups.schedule`) or as part of
 * a group campaign (`groups.campaign`, rows sharing `batchId`). Each row has one job; the row's status
 * decides whether the job still sends (a cancelled row is skipped).
 */
export const groupSends = pgTable(
  'group_sends',
  {
    id: id(),
    groupJid: text().notNull(),
    text: text().notNull(),
    /**
     * The file sent with the text as its caption, stored once (a campaign's rows share it); the gateway
     * fetches it from a signed link to this row (`/media/<row id>`).
     */
    attachment: jsonb().$type<CampaignAttachment>(),
    /** Participant JIDs mentioned in the message. */
    mentions: text().array().notNull().default(sql`'{}'::text[]`),
    status: text().$type<GroupSendStatus>().notNull(),
    /** When it may go out (now for an immediate send). */
    sendAt: timestamp({ withTimezone: true }).notNull(),
    /** A group campaign's id and name, shared by its rows. */
    batchId: uuid(),
    batchName: text(),
    /** Seconds between two sends of the same campaign (on top of the shared gateway throttle). */
    gapSeconds: real().notNull().default(0),
    attempts: integer().notNull().default(0),
    providerMessageId: text(),
    error: text(),
    createdBy: text(),
    sentAt: timestamp({ withTimezone: true }),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [
    index('group_sends_group_idx').on(t.groupJid, t.createdAt.desc()),
    index('group_sends_batch_idx').on(t.batchId),
    index('group_sends_status_idx').on(t.status, t.sendAt),
    check(
      'group_sends_status_check',
      sql.raw(`status in (${GROUP_SEND_STATUSES.map((s) => `'${s}'`).join(', ')})`),
    ),
  ],
).enableRLS();

/**
 * Messages members wrote in groups, stored only while the `storeGroupMessages` setting is on. The
 * bot never answers them; agents read them with `groups.messages`.
 */
export const groupMessages = pgTable(
  'group_messages',
  {
    id: id(),
    groupJid: text().notNull(),
    /** WhatsApp's message id: a second delivery of the same message changes nothing. */
    providerMessageId: text().notNull(),
    senderPhone: text(),
    senderLid: text(),
    senderName: text(),
    type: text().notNull(),
    body: text(),
    sentAt: timestamp({ withTimezone: true }).notNull(),
    createdAt: createdAt(),
  },
  (t) => [
    uniqueIndex('group_messages_provider_key').on(t.providerMessageId),
    index('group_messages_group_idx').on(t.groupJid, t.sentAt.desc(), t.id.desc()),
  ],
).enableRLS();

export const GATEWAY_SYNC_KINDS = ['groups', 'contacts'] as const;
export type GatewaySyncKind = (typeof GATEWAY_SYNC_KINDS)[number];
export const GATEWAY_SYNC_STATUSES = ['queued', 'running', 'completed', 'failed'] as const;
export type GatewaySyncStatus = (typeof GATEWAY_SYNC_STATUSES)[number];

/**
 * A background import from the gateway (its groups, or its contact list) with its progress, which
 * the dashboard polls (`groups.syncStatus`, `crm.contacts.syncStatus`). One active run per kind.
 */
export const gatewaySyncs = pgTable(
  'gateway_syncs',
  {
    id: id(),
    kind: text().$type<GatewaySyncKind>().notNull(),
    status: text().$type<GatewaySyncStatus>().notNull().default('queued'),
    /** Items the gateway listed (null until it answered). */
    total: integer(),
    processed: integer().notNull().default(0),
    created: integer().notNull().default(0),
    updated: integer().notNull().default(0),
    error: text(),
    startedBy: text(),
    startedAt: timestamp({ withTimezone: true }),
    finishedAt: timestamp({ withTimezone: true }),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [
    index('gateway_syncs_kind_idx').on(t.kind, t.createdAt.desc()),
    // One queued or running run per kind.
    uniqueIndex('gateway_syncs_active_key').on(t.kind).where(sql`status in ('queued', 'running')`),
  ],
).enableRLS();
