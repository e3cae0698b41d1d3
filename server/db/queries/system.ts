import { eq, sql } from 'drizzle-orm';
import { systemState } from '../../../drizzle';
import type { DbOrTx } from '../types';

export const SESSION_STATE_KEY = 'whatsapp.session';

/** Stores the latest value for a key (the newest write wins). */
export async function putSystemState(db: DbOrTx, key: string, value: Record<string, unknown>): Promise<void> {
  await db
    .insert(systemState)
    .values({ key, value })
    .onConflictDoUpdate({ target: systemState.key, set: { value, updatedAt: sql`now()` } });
}

export async function getSystemState(
  db: DbOrTx,
  key: string,
): Promise<{ value: Record<string, unknown>; updatedAt: Date } | null> {
  const [row] = await db
    .select({ value: systemState.value, updatedAt: systemState.updatedAt })
    .from(systemState)
    .where(eq(systemState.key, key));
  return row ?? null;
}

/**
 * Jobs waiting in pg-boss (created or retry), and the age of the oldest one that may run now
 * (jobs scheduled for later are counted but do not age).
 */
export async function queueBacklog(
  db: DbOrTx,
): Promise<{ depth: number; oldestWaitingSeconds: number | null }> {
  const [row] = await db.execute<{ depth: number; oldest: number | null }>(sql`
    select count(*)::int as depth,
           extract(epoch from now() - min(created_on) filter (where start_after <= now()))::float8 as oldest
    from pgboss.job where state in ('created', 'retry')`);
  return { depth: row?.depth ?? 0, oldestWaitingSeconds: row?.oldest ?? null };
}
