import { integer, pgTable, text, timestamp, uniqueIndex } from 'drizzle-orm/pg-core';
import { createdAt, id, updatedAt } from './_columns';

/**
 * The WhatsApp Cloud API's message templates, as the business account lists them (templates.sync).
 * Only an APPROVED template may be sent outside the 24-hour customer service window.
 */
export const messageTemplates = pgTable(
  'message_templates',
  {
    id: id(),
    name: text().notNull(),
    language: text().notNull(),
    category: text(),
    /** APPROVED, PENDING, REJECTED, PAUSED, DISABLED, ... as Meta reports it. */
    status: text().notNull(),
    /** The highest `{{n}}` of the body: how many values a send must give. */
    bodyVariables: integer().notNull().default(0),
    syncedAt: timestamp({ withTimezone: true }).notNull().defaultNow(),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [uniqueIndex('message_templates_name_language_key').on(t.name, t.language)],
).enableRLS();
