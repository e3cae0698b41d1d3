import { sql } from 'drizzle-orm';
import { boolean, check, index, pgTable, text, timestamp, uniqueIndex } from 'drizzle-orm/pg-core';
import { createdAt, id, updatedAt } from './_columns';
import type { Role } from './auth';

/**
 * The people of the team. A person is invited by email (no `sub` yet) and linked to their Supabase Auth
 * user (`sub`) on their first signed-in call whose token carries the same verified email. Emails are
 * stored lower-cased. `available` is the person's own "taking conversations" flag (routing reads it).
 */
export const staff = pgTable(
  'staff',
  {
    id: id(),
    /** The Supabase Auth user id (the token's `sub`); null until the person first signs in. */
    sub: text(),
    email: text().notNull(),
    displayName: text().notNull(),
    role: text().$type<Role>().notNull(),
    active: boolean().notNull().default(true),
    available: boolean().notNull().default(true),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
    lastSeenAt: timestamp({ withTimezone: true }),
    /** When routing last gave this person a conversation (round-robin picks the longest-waiting). */
    lastAssignedAt: timestamp({ withTimezone: true }),
  },
  (t) => [
    uniqueIndex('staff_sub_key').on(t.sub),
    uniqueIndex('staff_email_key').on(t.email),
    check('staff_role_check', sql`${t.role} in ('admin','agent')`),
    check('staff_email_lower_check', sql`${t.email} = lower(${t.email})`),
  ],
).enableRLS();

/**
 * Single-use tickets that open one subscription stream (browsers cannot send headers with an
 * EventSource). Only a SHA-256 hash is stored; a ticket names its caller and expires within a minute.
 * Kept in the database so a stream may connect to any process of the deployment.
 */
export const streamTickets = pgTable(
  'stream_tickets',
  {
    hash: text().primaryKey(),
    /** 'staff' or 'apiKey': whose credentials are re-checked when the ticket is used. */
    callerKind: text().$type<'staff' | 'apiKey'>().notNull(),
    callerId: text().notNull(),
    expiresAt: timestamp({ withTimezone: true }).notNull(),
    createdAt: createdAt(),
  },
  (t) => [
    index('stream_tickets_expires_idx').on(t.expiresAt),
    check('stream_tickets_kind_check', sql`${t.callerKind} in ('staff','apiKey')`),
  ],
).enableRLS();
