import { sql } from 'drizzle-orm';
import { index, integer, jsonb, pgTable, text, timestamp } from 'drizzle-orm/pg-core';
import { createdAt, id } from './_columns';

/**
 * What the server last learned about the world outside, one row per key (for example the WhatsApp
 * session status from the gateway's `session.status` webhook), for the status page.
 */
export const systemState = pgTable('system_state', {
  key: text().primaryKey(),
  value: jsonb().$type<Record<string, unknown>>().notNull(),
  updatedAt: timestamp({ withTimezone: true }).notNull().defaultNow(),
}).enableRLS();

/**
 * What the gateway sent that could not be handled (a sender we cannot reach, an item the parser
 * refused, a write the database refused), kept whole with the reason so nothing is dropped without a
 * trace. Admins list them (`system.deadLetters`) and retry them once the cause is fixed.
 */
export const deadLetters = pgTable(
  'dead_letters',
  {
    id: id(),
    /** Where the item came from, for example `wasender.webhook`. */
    source: text().notNull(),
    reason: text().notNull(),
    /** The raw item as received (sanitised only so Postgres can store it). */
    raw: jsonb().$type<unknown>().notNull(),
    /** The gateway's message id, when the item had a readable one. */
    providerMessageId: text(),
    /** Retries attempted through `system.retryDeadLetter`, and the outcome of the last one. */
    attempts: integer().notNull().default(0),
    lastError: text(),
    lastAttemptAt: timestamp({ withTimezone: true }),
    /** Set when a retry stored the item (or an admin dismissed it). */
    resolvedAt: timestamp({ withTimezone: true }),
    createdAt: createdAt(),
  },
  (t) => [
    index('dead_letters_created_idx').on(t.createdAt.desc(), t.id),
    index('dead_letters_open_idx').on(t.createdAt).where(sql`${t.resolvedAt} is null`),
  ],
).enableRLS();
