import { pgTable, text, timestamp } from 'drizzle-orm/pg-core';

/**
 * Shared send throttles: each send reserves the next free slot of its bucket with one atomic update,
 * so every process together stays under the gateway's rate.
 */
export const throttles = pgTable('throttles', {
  name: text().primaryKey(),
  nextSlotAt: timestamp({ withTimezone: true }).notNull().defaultNow(),
}).enableRLS();
