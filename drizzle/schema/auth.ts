import { sql } from 'drizzle-orm';
import { check, pgTable, text, timestamp, uniqueIndex } from 'drizzle-orm/pg-core';
import { createdAt, id } from './_columns';

export const ROLES = ['admin', 'agent'] as const;
export type Role = (typeof ROLES)[number];

/** API keys: only a SHA-256 hash is stored; the prefix lets people recognise a key. */
export const apiKeys = pgTable(
  'api_keys',
  {
    id: id(),
    name: text().notNull(),
    prefix: text().notNull(),
    hash: text().notNull(),
    role: text().$type<Role>().notNull(),
    createdAt: createdAt(),
    lastUsedAt: timestamp({ withTimezone: true }),
    revokedAt: timestamp({ withTimezone: true }),
  },
  (t) => [
    uniqueIndex('api_keys_hash_key').on(t.hash),
    check('api_keys_role_check', sql`${t.role} in ('admin','agent')`),
  ],
).enableRLS();
