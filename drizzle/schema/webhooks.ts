import { sql } from 'drizzle-orm';
import {
  bigint,
  boolean,
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

/**
 * Outbound webhook subscriptions: where to POST which events. The signing secret (`whsec_…`, Standard
 * Webhooks format) is kept as generated, because the server needs it in clear to sign each delivery;
 * it is shown to the admin once at creation and never returned by any read. Like every table, RLS is
 * on with no policies, so only the server's own database role reads it.
 */
export const webhookSubscriptions = pgTable('webhook_subscriptions', {
  id: id(),
  url: text().notNull(),
  description: text(),
  /** Event types wanted (see server/contracts/webhooks.ts), or ['*'] for every type. */
  events: text().array().notNull(),
  secret: text().notNull(),
  active: boolean().notNull().default(true),
  /** Start of the current run of failed attempts; null after any success. */
  failingSince: timestamp({ withTimezone: true }),
  /** Set when the server disabled the subscription after sustained failure. */
  disabledAt: timestamp({ withTimezone: true }),
  disabledReason: text(),
  createdAt: createdAt(),
  updatedAt: updatedAt(),
}).enableRLS();

/**
 * The delivery log: one row per (subscription, event), plus one per replay (`replayOf`). The
 * `webhookId` is the Standard Webhooks message id: the same across every attempt and replay of one
 * event to one subscription, so receivers can deduplicate.
 */
export const webhookDeliveries = pgTable(
  'webhook_deliveries',
  {
    id: id(),
    subscriptionId: uuid()
      .notNull()
      .references(() => webhookSubscriptions.id, { onDelete: 'cascade' }),
    /** The events-log row delivered; null for `webhooks.test` pings. */
    eventId: bigint({ mode: 'number' }),
    eventType: text().notNull(),
    webhookId: text().notNull(),
    /** The exact JSON body sent (signed anew with each attempt's timestamp). */
    payload: jsonb().$type<Record<string, unknown>>().notNull(),
    replayOf: uuid(),
    /** pending → succeeded | failed | cancelled */
    state: text().notNull().default('pending'),
    attempts: integer().notNull().default(0),
    nextAttemptAt: timestamp({ withTimezone: true }),
    /** A worker holds the current attempt until then (a crashed worker's hold lapses). */
    claimedUntil: timestamp({ withTimezone: true }),
    lastStatus: integer(),
    lastError: text(),
    lastDurationMs: integer(),
    /** The start of the receiver's last answer, bounded. */
    responseExcerpt: text(),
    lastAttemptAt: timestamp({ withTimezone: true }),
    completedAt: timestamp({ withTimezone: true }),
    createdAt: createdAt(),
  },
  (t) => [
    uniqueIndex('webhook_deliveries_event_uq')
      .on(t.subscriptionId, t.eventId)
      .where(sql`${t.replayOf} is null and ${t.eventId} is not null`),
    index('webhook_deliveries_subscription_idx').on(t.subscriptionId, t.createdAt.desc(), t.id),
    index('webhook_deliveries_due_idx').on(t.nextAttemptAt).where(sql`${t.state} = 'pending'`),
  ],
).enableRLS();

/** How far the events log has been fanned out to deliveries (one row, locked while fanning out). */
export const webhookCursor = pgTable('webhook_cursor', {
  name: text().primaryKey(),
  /** Every event at or below this id has been fanned out (or its id was never committed). */
  lastEventId: bigint({ mode: 'number' }).notNull(),
  updatedAt: updatedAt(),
}).enableRLS();
