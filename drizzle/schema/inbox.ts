import { sql } from 'drizzle-orm';
import { check, index, pgTable, text, timestamp, uniqueIndex, uuid } from 'drizzle-orm/pg-core';
import { createdAt, id, updatedAt } from './_columns';
import { conversations } from './conversations';
import { staff } from './staff';

/** Private notes of the team on a conversation; never sent to the customer. */
export const conversationNotes = pgTable(
  'conversation_notes',
  {
    id: id(),
    conversationId: uuid()
      .notNull()
      .references(() => conversations.id, { onDelete: 'cascade' }),
    body: text().notNull(),
    authorType: text().notNull(),
    authorId: text(),
    authorName: text(),
    createdAt: createdAt(),
  },
  (t) => [index('conversation_notes_conversation_idx').on(t.conversationId, t.createdAt)],
).enableRLS();

/** Saved replies: a short code and a text with `{{variable}}` placeholders. */
export const cannedResponses = pgTable(
  'canned_responses',
  {
    id: id(),
    code: text().notNull(),
    text: text().notNull(),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [uniqueIndex('canned_responses_code_key').on(t.code)],
).enableRLS();

export const INBOX_METRIC_KINDS = ['first_response', 'resolution'] as const;
export type InboxMetricKind = (typeof INBOX_METRIC_KINDS)[number];

/**
 * The measured moments of the human side: a person's first reply in a turn (`first_response`, from
 * the turn's start) and a resolution (`resolution`, from the turn's start to resolving). `staff_id`
 * is the person (null when an API key or the server acted; the actor columns say who).
 */
export const inboxMetrics = pgTable(
  'inbox_metrics',
  {
    id: id(),
    kind: text().$type<InboxMetricKind>().notNull(),
    conversationId: uuid()
      .notNull()
      .references(() => conversations.id, { onDelete: 'cascade' }),
    staffId: uuid().references(() => staff.id, { onDelete: 'set null' }),
    actorType: text().notNull(),
    actorId: text(),
    actorName: text(),
    startedAt: timestamp({ withTimezone: true, precision: 3 }).notNull(),
    at: timestamp({ withTimezone: true, precision: 3 }).notNull(),
  },
  (t) => [
    index('inbox_metrics_kind_at_idx').on(t.kind, t.at),
    index('inbox_metrics_staff_idx').on(t.staffId, t.kind, t.at),
    check('inbox_metrics_kind_check', sql`${t.kind} in ('first_response','resolution')`),
  ],
).enableRLS();
