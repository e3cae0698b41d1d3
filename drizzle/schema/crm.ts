import { sql } from 'drizzle-orm';
import { check, index, integer, jsonb, numeric, pgTable, text, timestamp, uuid } from 'drizzle-orm/pg-core';
import { DEAL_STAGE_VALUES } from '../../server/contracts/deals';
import { createdAt, id, updatedAt } from './_columns';
import { contacts } from './contacts';
import { conversations } from './conversations';

/** An actor as kept in a json column: its kind, id and name. */
export interface StoredActor {
  type: string;
  id: string | null;
  name: string | null;
}

export const DEAL_STAGES = DEAL_STAGE_VALUES;
export type DealStage = (typeof DEAL_STAGES)[number];

export const deals = pgTable(
  'deals',
  {
    id: id(),
    contactId: uuid()
      .notNull()
      .references(() => contacts.id, { onDelete: 'cascade' }),
    title: text().notNull(),
    stage: text().$type<DealStage>().notNull().default('lead'),
    /** Money as an exact decimal string; never a float. */
    value: numeric({ precision: 14, scale: 2 }).notNull().default('0'),
    currency: text().notNull().default('USD'),
    probability: integer(),
    expectedCloseAt: timestamp({ withTimezone: true }),
    closedAt: timestamp({ withTimezone: true }),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
    deletedAt: timestamp({ withTimezone: true }),
  },
  (t) => [
    index('deals_contact_idx').on(t.contactId),
    index('deals_stage_idx').on(t.stage),
    // The open pipeline's value per currency, read from the index alone.
    index('deals_open_value_idx')
      .on(t.currency, t.value)
      .where(sql`${t.deletedAt} is null and ${t.stage} not in ('won', 'lost')`),
    check('deals_stage_check', sql`${t.stage} in ('lead','qualified','proposal','negotiation','won','lost')`),
    check('deals_probability_check', sql`${t.probability} between 0 and 100`),
  ],
).enableRLS();

export const TASK_TYPES = ['follow_up', 'call', 'meeting', 'email', 'handoff', 'other'] as const;
export type TaskType = (typeof TASK_TYPES)[number];
export const TASK_PRIORITIES = ['low', 'medium', 'high', 'urgent'] as const;
export type TaskPriority = (typeof TASK_PRIORITIES)[number];
export const TASK_STATUSES = ['open', 'done'] as const;
export type TaskStatus = (typeof TASK_STATUSES)[number];

export const tasks = pgTable(
  'tasks',
  {
    id: id(),
    contactId: uuid().references(() => contacts.id, { onDelete: 'cascade' }),
    dealId: uuid().references(() => deals.id, { onDelete: 'set null' }),
    conversationId: uuid().references(() => conversations.id, { onDelete: 'set null' }),
    title: text().notNull(),
    description: text(),
    type: text().$type<TaskType>().notNull().default('follow_up'),
    priority: text().$type<TaskPriority>().notNull().default('medium'),
    status: text().$type<TaskStatus>().notNull().default('open'),
    dueAt: timestamp({ withTimezone: true }),
    completedAt: timestamp({ withTimezone: true }),
    /** The id of who created the task ('bot' for handoffs), with the whole actor in createdByActor. */
    createdBy: text(),
    createdByActor: jsonb().$type<StoredActor>(),
    completedByActor: jsonb().$type<StoredActor>(),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [
    index('tasks_contact_idx').on(t.contactId),
    index('tasks_status_due_idx').on(t.status, t.dueAt),
    index('tasks_deal_idx').on(t.dealId),
    index('tasks_open_handoff_idx')
      .on(t.conversationId)
      .where(sql`${t.type} = 'handoff' and ${t.status} = 'open'`),
    check('tasks_status_check', sql`${t.status} in ('open','done')`),
  ],
).enableRLS();

/** The contact's timeline: everything that happened, in one list. */
export const activities = pgTable(
  'activities',
  {
    id: id(),
    contactId: uuid()
      .notNull()
      .references(() => contacts.id, { onDelete: 'cascade' }),
    dealId: uuid().references(() => deals.id, { onDelete: 'set null' }),
    type: text().notNull(),
    summary: text().notNull(),
    metadata: jsonb().$type<Record<string, unknown>>(),
    actorType: text().notNull().default('system'),
    actorId: text(),
    actorName: text(),
    occurredAt: timestamp({ withTimezone: true }).notNull().defaultNow(),
    createdAt: createdAt(),
  },
  (t) => [
    index('activities_contact_idx').on(t.contactId, t.occurredAt.desc()),
    index('activities_deal_idx').on(t.dealId),
  ],
).enableRLS();
