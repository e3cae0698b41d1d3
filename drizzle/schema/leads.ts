import { sql } from 'drizzle-orm';
import {
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
import { createdAt, id } from './_columns';
import { contacts } from './contacts';
import { conversations, messages } from './conversations';
import { tasks } from './crm';

/** What the model answered about one conversation, as checked by the qualification schema. */
export interface StoredAssessment {
  intent: string;
  need: string;
  budgetSignal: string;
  timeline: string;
  decisionRole: string;
  score: number;
  reasons: string[];
  summary: string;
}

/**
 * The model's assessment of a lead after a conversation went quiet: one row per quiet period, the
 * period named by the customer's last message in it (unique with the conversation).
 */
export const leadQualifications = pgTable(
  'lead_qualifications',
  {
    id: id(),
    contactId: uuid()
      .notNull()
      .references(() => contacts.id, { onDelete: 'cascade' }),
    conversationId: uuid()
      .notNull()
      .references(() => conversations.id, { onDelete: 'cascade' }),
    /** The customer's last message of the quiet period that was assessed. */
    lastMessageId: uuid()
      .notNull()
      .references(() => messages.id, { onDelete: 'cascade' }),
    score: integer().notNull(),
    assessment: jsonb().$type<StoredAssessment>().notNull(),
    model: text().notNull(),
    /** The sales task this assessment created (score at or above the threshold), if any. */
    taskId: uuid().references(() => tasks.id, { onDelete: 'set null' }),
    assessedAt: timestamp({ withTimezone: true }).notNull().defaultNow(),
    createdAt: createdAt(),
  },
  (t) => [
    uniqueIndex('lead_qualifications_period_idx').on(t.conversationId, t.lastMessageId),
    index('lead_qualifications_contact_idx').on(t.contactId, t.assessedAt.desc()),
    check('lead_qualifications_score_check', sql`${t.score} between 0 and 100`),
  ],
).enableRLS();
