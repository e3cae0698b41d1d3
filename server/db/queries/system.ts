import { and, eq, inArray, type SQL, sql } from 'drizzle-orm';
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

/** What a stored value must hold: per field, its text, one of several texts, or null for absent. */
export type SystemStateMatch = Record<string, string | null | readonly string[]>;

function matches(match: SystemStateMatch): SQL | undefined {
  return and(
    ...Object.entries(match).map(([field, want]) => {
      const got = sql`(${systemState.value} ->> ${field})`;
      if (want === null) return sql`${got} is null`;
      if (typeof want === 'string') return eq(got, want);
      return inArray(got, [...want]);
    }),
  );
}

/**
 * Stores a value for a key that is absent or whose stored `field` is not one of `busy` (compared and
 * written in one statement, so of two concurrent callers only one wins). True when it was written.
 */
export async function putSystemStateUnless(
  db: DbOrTx,
  key: string,
  value: Record<string, unknown>,
  field: string,
  busy: readonly string[],
): Promise<boolean> {
  const rows = await db
    .insert(systemState)
    .values({ key, value })
    .onConflictDoUpdate({
      target: systemState.key,
      set: { value, updatedAt: sql`now()` },
      setWhere: busy.length
        ? sql`coalesce(${systemState.value} ->> ${field}, '') not in (${sql.join(
            busy.map((b) => sql`${b}`),
            sql`, `,
          )})`
        : undefined,
    })
    .returning({ key: systemState.key });
  return rows.length > 0;
}

/** Replaces a key's value only when the stored one matches `match` (compare-and-set). True when it did. */
export async function updateSystemStateIf(
  db: DbOrTx,
  key: string,
  value: Record<string, unknown>,
  match: SystemStateMatch,
): Promise<boolean> {
  const rows = await db
    .update(systemState)
    .set({ value, updatedAt: sql`now()` })
    .where(and(eq(systemState.key, key), matches(match)))
    .returning({ key: systemState.key });
  return rows.length > 0;
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
