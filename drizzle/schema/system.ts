import { jsonb, pgTable, text, timestamp } from 'drizzle-orm/pg-core';

/**
 * What the server last learned about the world outside, one row per key (for example the WhatsApp
 * session status from the gateway's `session.status` webhook), for the status page.
 */
export const systemState = pgTable('system_state', {
  key: text().primaryKey(),
  value: jsonb().$type<Record<string, unknown>>().notNull(),
  updatedAt: timestamp({ withTimezone: true }).notNull().defaultNow(),
}).enableRLS();
