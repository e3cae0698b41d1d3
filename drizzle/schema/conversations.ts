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
import {
  ACTOR_TYPE_VALUES,
  CHANNEL_VALUES,
  CONVERSATION_STATUS_VALUES,
  MESSAGE_AUTHOR_VALUES,
  MESSAGE_DIRECTION_VALUES,
  OWNER_VALUES,
} from '../../server/contracts/conversations';
import { createdAt, id, updatedAt } from './_columns';
import { contacts } from './contacts';
import { staff } from './staff';

export const OWNERS = OWNER_VALUES;
export type Owner = (typeof OWNERS)[number];
export const CONVERSATION_STATUSES = CONVERSATION_STATUS_VALUES;
export const CHANNELS = CHANNEL_VALUES;
export type Channel = (typeof CHANNELS)[number];
export type ConversationStatus = (typeof CONVERSATION_STATUSES)[number];

/** The time a conversation list is ordered by: its latest message, else its creation. */
export const conversationActivityAt = (t: { lastMessageAt: AnyPgColumn; createdAt: AnyPgColumn }) =>
  sql<Date>`coalesce(${t.lastMessageAt}, ${t.createdAt})`;

/** One conversation per contact, owned either by the bot or by a human. */
export const conversations = pgTable(
  'conversations',
  {
    id: id(),
    contactId: uuid()
      .notNull()
      .references(() => contacts.id, { onDelete: 'cascade' }),
    owner: text().$type<Owner>().notNull().default('bot'),
    ownerSince: timestamp({ withTimezone: true }).notNull().defaultNow(),
    ownerReason: text(),
    /** When a human owns the conversation: the time the bot takes it back by itself (null: never). */
    botResumesAt: timestamp({ withTimezone: true }),
    unreadCount: integer().notNull().default(0),
    lastMessageAt: timestamp({ withTimezone: true }),
    lastMessagePreview: text(),
    lastInboundAt: timestamp({ withTimezone: true }),
    /** Time of the latest agent message, for handing back to the bot after a quiet time. */
    lastAgentAt: timestamp({ withTimezone: true }),
    /** The newest inbound message the bot has answered (or chose not to answer): replies start after it. */
    botHandledThrough: timestamp({ withTimezone: true, precision: 3 }),
    /** open: needs the team; pending: waiting for the customer; resolved; snoozed until `snoozedUntil`. */
    status: text().$type<ConversationStatus>().notNull().default('open'),
    snoozedUntil: timestamp({ withTimezone: true, precision: 3 }),
    /** The staff member the conversation is assigned to (null: unassigned). */
    assigneeId: uuid().references(() => staff.id, { onDelete: 'set null' }),
    labels: text().array().notNull().default(sql`'{}'::text[]`),
    /**
     * Since when the customer waits for a person: set by a handoff, or by a customer message while a
     * human owns the conversation; cleared by a person's reply, a hand-back or resolving.
     */
    waitingSince: timestamp({ withTimezone: true, precision: 3 }),
    /** Start of the current human turn (a handoff, or the first customer message to a person). */
    turnStartedAt: timestamp({ withTimezone: true, precision: 3 }),
    /** A person's first reply in the current turn (null: not answered yet). */
    turnAnsweredAt: timestamp({ withTimezone: true, precision: 3 }),
    /** The gateway the conversation lives on (set by the customer's messages). */
    channel: text().$type<Channel>().notNull().default('wasender'),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [
    uniqueIndex('conversations_contact_key').on(t.contactId),
    index('conversations_last_message_idx').on(t.lastMessageAt.desc(), t.id),
    index('conversations_owner_idx').on(t.owner),
    index('conversations_activity_idx').on(sql`${conversationActivityAt(t)} desc nulls last`, t.id.desc()),
    // The inbox's bot / human tabs, newest activity first.
    index('conversations_owner_activity_idx').on(
      t.owner,
      sql`${conversationActivityAt(t)} desc nulls last`,
      t.id.desc(),
    ),
    // The inbox's status and assignee filters, newest activity first.
    index('conversations_status_activity_idx').on(
      t.status,
      sql`${conversationActivityAt(t)} desc nulls last`,
      t.id.desc(),
    ),
    index('conversations_assignee_idx').on(t.assigneeId, t.status),
    index('conversations_labels_idx').using('gin', t.labels),
    index('conversations_waiting_idx').on(t.waitingSince).where(sql`${t.waitingSince} is not null`),
    check('conversations_owner_check', sql`${t.owner} in ('bot','human')`),
    check('conversations_channel_check', sql`${t.channel} in ('wasender','whatsapp-cloud')`),
    check(
      'conversations_status_check',
      sql`${t.status} in ('open','pending','resolved','snoozed') and (${t.status} = 'snoozed') = (${t.snoozedUntil} is not null)`,
    ),
  ],
).enableRLS();

export const DIRECTIONS = MESSAGE_DIRECTION_VALUES;
export type Direction = (typeof DIRECTIONS)[number];
export const AUTHORS = MESSAGE_AUTHOR_VALUES;
export type Author = (typeof AUTHORS)[number];
export const MESSAGE_TYPES = [
  'text',
  'image',
  'audio',
  'video',
  'document',
  'sticker',
  'location',
  'contact',
  'reaction',
  'other',
] as const;
export type MessageType = (typeof MESSAGE_TYPES)[number];

/**
 * Delivery status of a message. Outbound statuses only move forward along
 * queued → sent → delivered → read → played; `failed` and `not_configured` are final
 * unless a retry sends the message again.
 */
export const MESSAGE_STATUSES = [
  'received',
  'queued',
  'pending',
  'sent',
  'delivered',
  'read',
  'played',
  'failed',
  'not_configured',
] as const;
export type MessageStatus = (typeof MESSAGE_STATUSES)[number];

export interface AiUsage {
  model: string;
  promptTokens: number;
  completionTokens: number;
  latencyMs: number;
  /** Knowledge passages the reply was given. */
  sources?: { passageId: string; documentId: string; label: string; score: number }[];
}

/** One row per WhatsApp message, inbound or outbound. */
export const messages = pgTable(
  'messages',
  {
    id: id(),
    conversationId: uuid()
      .notNull()
      .references(() => conversations.id, { onDelete: 'cascade' }),
    direction: text().$type<Direction>().notNull(),
    author: text().$type<Author>().notNull(),
    type: text().$type<MessageType>().notNull().default('text'),
    body: text(),
    /** The gateway's id of the message: unique, so a webhook delivered twice is stored once. */
    providerMessageId: text(),
    /**
     * The gateway's own id for a message we sent (WaSender's msgId), which differs from WhatsApp's id
     * carried by status webhooks; kept to match the two.
     */
    gatewayMessageId: text(),
    status: text().$type<MessageStatus>().notNull(),
    error: text(),
    /** Which reply (or agent send) this part belongs to, and its position in it. */
    replyGroup: uuid(),
    partIndex: integer().notNull().default(0),
    ai: jsonb().$type<AiUsage>(),
    /** Cloud API: this message is the named approved template with these body values (null: free-form text). */
    cloudTemplate: jsonb().$type<{ name: string; language: string; values: string[] }>(),
    /** A location or contact card, as structured data (server/pipeline/payload.ts `MessageCard`). */
    card: jsonb().$type<Record<string, unknown>>(),
    /**
     * Who wrote a message sent from the dashboard or the API: the staff id or the API key's id, its kind
     * (`staff`, `apiKey`, `system`) and name at the time. Null for customers', the bot's and campaigns'
     * messages (their author says who).
     */
    actorId: text(),
    actorType: text().$type<ActorType>(),
    actorName: text(),
    campaignId: uuid(),
    sentAt: timestamp({ withTimezone: true }),
    deliveredAt: timestamp({ withTimezone: true }),
    readAt: timestamp({ withTimezone: true }),
    /** Millisecond precision, like a JS Date: the pipeline compares these times exactly. */
    createdAt: timestamp({ withTimezone: true, precision: 3 }).notNull().defaultNow(),
    updatedAt: updatedAt(),
  },
  (t) => [
    uniqueIndex('messages_provider_message_id_key').on(t.providerMessageId),
    index('messages_gateway_message_id_idx').on(t.gatewayMessageId),
    index('messages_conversation_created_idx').on(t.conversationId, t.createdAt.desc(), t.id),
    index('messages_status_idx').on(t.status).where(sql`${t.status} in ('queued','pending')`),
    index('messages_created_direction_idx').on(t.createdAt, t.direction),
    index('messages_body_trgm_idx').using('gin', t.body.op('gin_trgm_ops')),
    check('messages_direction_check', sql`${t.direction} in ('inbound','outbound')`),
    check('messages_author_check', sql`${t.author} in ('contact','bot','agent','campaign','system')`),
  ],
).enableRLS();

export const ACTOR_TYPES = ACTOR_TYPE_VALUES;
export type ActorType = (typeof ACTOR_TYPES)[number];

/** Every change of a conversation's owner, with who made it and why. */
export const botEvents = pgTable(
  'bot_events',
  {
    id: id(),
    conversationId: uuid()
      .notNull()
      .references(() => conversations.id, { onDelete: 'cascade' }),
    fromOwner: text().$type<Owner>().notNull(),
    toOwner: text().$type<Owner>().notNull(),
    actorType: text().$type<ActorType>().notNull(),
    actorId: text(),
    actorName: text(),
    reason: text(),
    metadata: jsonb().$type<Record<string, unknown>>(),
    createdAt: createdAt(),
  },
  (t) => [index('bot_events_conversation_idx').on(t.conversationId, t.createdAt.desc())],
).enableRLS();

/**
 * A delivery status that arrived before the message it names was known (a status webhook can
 * overtake the send response or the echo). Kept until that message appears, then applied and
 * deleted; old rows are pruned.
 */
export const earlyStatuses = pgTable(
  'early_statuses',
  {
    id: id(),
    /** WhatsApp's id of the message (the status webhook's key id), when given. */
    providerMessageId: text(),
    /** The gateway's own id of the message (WaSender's msgId), when given. */
    gatewayMessageId: text(),
    status: text().$type<MessageStatus>().notNull(),
    error: text(),
    receivedAt: createdAt(),
  },
  (t) => [
    index('early_statuses_provider_idx').on(t.providerMessageId),
    index('early_statuses_gateway_idx').on(t.gatewayMessageId),
    index('early_statuses_received_idx').on(t.receivedAt),
  ],
).enableRLS();
