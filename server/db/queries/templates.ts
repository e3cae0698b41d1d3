import { and, asc, eq, notInArray, sql } from 'drizzle-orm';
import { messageTemplates } from '../../../drizzle';
import type { DbOrTx } from '../types';

export interface TemplateRow {
  name: string;
  language: string;
  category: string | null;
  status: string;
  bodyVariables: number;
}

const columns = {
  id: messageTemplates.id,
  name: messageTemplates.name,
  language: messageTemplates.language,
  category: messageTemplates.category,
  status: messageTemplates.status,
  bodyVariables: messageTemplates.bodyVariables,
  syncedAt: messageTemplates.syncedAt,
};

/** Stores the business account's templates as listed now, and removes the ones it no longer lists. */
export async function replaceTemplates(db: DbOrTx, rows: TemplateRow[]): Promise<{ removed: number }> {
  const at = new Date();
  for (let i = 0; i < rows.length; i += 500) {
    await db
      .insert(messageTemplates)
      .values(rows.slice(i, i + 500).map((r) => ({ ...r, syncedAt: at })))
      .onConflictDoUpdate({
        target: [messageTemplates.name, messageTemplates.language],
        set: {
          category: sql`excluded.category`,
          status: sql`excluded.status`,
          bodyVariables: sql`excluded.body_variables`,
          syncedAt: at,
          updatedAt: at,
        },
      });
  }
  const keep = rows.map((r) => `${r.name}\u0001${r.language}`);
  const key = sql<string>`${messageTemplates.name} || chr(1) || ${messageTemplates.language}`;
  const removed = await db
    .delete(messageTemplates)
    .where(keep.length ? notInArray(key, keep) : undefined)
    .returning({ id: messageTemplates.id });
  return { removed: removed.length };
}

export function listTemplates(db: DbOrTx) {
  return db
    .select(columns)
    .from(messageTemplates)
    .orderBy(asc(messageTemplates.name), asc(messageTemplates.language));
}

export async function findTemplate(db: DbOrTx, name: string, language: string) {
  const [row] = await db
    .select(columns)
    .from(messageTemplates)
    .where(and(eq(messageTemplates.name, name), eq(messageTemplates.language, language)))
    .limit(1);
  return row ?? null;
}
