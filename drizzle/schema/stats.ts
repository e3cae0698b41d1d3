import { doublePrecision, integer, pgTable, timestamp } from 'drizzle-orm/pg-core';

/**
 * Message figures per closed 15-minute bucket (UTC-aligned; every time zone's midnight falls on such
 * a boundary), so a dashboard period reads a few thousand rows rather than every message in it.
 * Written by the dashboard's own reads, never by the message insert path: a bucket is computed the
 * first time a read needs it, once it is closed (ended more than an hour ago, longer than any
 * transaction that could still add a message to it). Buckets without messages are stored too
 * (zeros), so a missing row always means "not computed yet". See server/db/queries/stats.ts.
 */
export const messageStats = pgTable('message_stats', {
  bucketStart: timestamp({ withTimezone: true }).primaryKey(),
  inbound: integer().notNull(),
  outbound: integer().notNull(),
  /** Bot messages with AI usage. */
  aiReplies: integer().notNull(),
  aiPromptTokens: doublePrecision().notNull(),
  aiCompletionTokens: doublePrecision().notNull(),
  /** Every AI reply's latency in the bucket (null when none), for exact percentiles over a period. */
  aiLatencies: doublePrecision().array(),
  computedAt: timestamp({ withTimezone: true }).notNull().defaultNow(),
}).enableRLS();
