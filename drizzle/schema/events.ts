import { bigserial, index, jsonb, pgTable, text, timestamp, uuid } from 'drizzle-orm/pg-core';

/**
 * An append-only log of what happened (new messages, status changes, owner changes, campaign
 * progress). Written in the same transaction as the change it describes; its increasing id lets a
 * dashboard resume a subscription from the last event it saw, and NOTIFY carries it across processes.
 */
export const events = pgTable(
  'events',
  {
    id: bigserial({ mode: 'number' }).primaryKey(),
    type: text().notNull(),
    conversationId: uuid(),
    campaignId: uuid(),
    payload: jsonb().$type<Record<string, unknown>>().notNull(),
    createdAt: timestamp({ withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    index('events_conversation_idx').on(t.conversationId, t.id),
    index('events_created_idx').on(t.createdAt),
  ],
).enableRLS();
