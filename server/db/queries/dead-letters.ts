import { and, count, eq, isNull, sql } from 'drizzle-orm';
import { deadLetters } from '../../../drizzle';
import type { DbOrTx } from '../types';
import { afterKeyset, type Keyset, keysetOrder, keyText } from './keyset';

export const deadLetterColumns = {
  id: deadLetters.id,
  source: deadLetters.source,
  reason: deadLetters.reason,
  raw: deadLetters.raw,
  providerMessageId: deadLetters.providerMessageId,
  attempts: deadLetters.attempts,
  lastError: deadLetters.lastError,
  lastAttemptAt: deadLetters.lastAttemptAt,
  resolvedAt: deadLetters.resolvedAt,
  createdAt: deadLetters.createdAt,
};

export interface DeadLetterToStore {
  source: string;
  reason: string;
  /** Must be storable as jsonb (no NUL, no lone surrogates): see `sanitizeJson` in the webhook parser. */
  raw: unknown;
  providerMessageId: string | null;
}

/**
 * Keeps an item that could not be handled. A second delivery of the same item (same source and
 * message id) while the first is still open adds nothing: the open one's id is returned instead.
 */
export async function insertDeadLetter(
  db: DbOrTx,
  d: DeadLetterToStore,
): Promise<{ id: string; created: boolean }> {
  if (d.providerMessageId !== null) {
    const [open] = await db
      .select({ id: deadLetters.id })
      .from(deadLetters)
      .where(
        and(
          isNull(deadLetters.resolvedAt),
          eq(deadLetters.source, d.source),
          eq(deadLetters.providerMessageId, d.providerMessageId),
        ),
      )
      .limit(1);
    if (open) return { id: open.id, created: false };
  }
  const [row] = await db
    .insert(deadLetters)
    .values({
      source: d.source,
      reason: d.reason,
      raw: d.raw ?? null,
      providerMessageId: d.providerMessageId,
    })
    .returning({ id: deadLetters.id });
  return { id: row!.id, created: true };
}

export async function findDeadLetter(db: DbOrTx, id: string) {
  const [row] = await db.select(deadLetterColumns).from(deadLetters).where(eq(deadLetters.id, id)).limit(1);
  return row ?? null;
}

/** Newest first; `open` lists only the unresolved ones. */
export function listDeadLetters(db: DbOrTx, f: { open: boolean; limit: number; after: Keyset | null }) {
  return db
    .select({ ...deadLetterColumns, sortKey: keyText(deadLetters.createdAt) })
    .from(deadLetters)
    .where(
      and(
        f.open ? isNull(deadLetters.resolvedAt) : undefined,
        afterKeyset(deadLetters.createdAt, deadLetters.id, 'desc', f.after, 'timestamptz'),
      ),
    )
    .orderBy(keysetOrder(deadLetters.createdAt, deadLetters.id, 'desc'))
    .limit(f.limit + 1);
}

export async function countOpenDeadLetters(db: DbOrTx): Promise<number> {
  const [row] = await db.select({ n: count() }).from(deadLetters).where(isNull(deadLetters.resolvedAt));
  return row?.n ?? 0;
}

/** Records a retry: one more attempt, its time and its error (null when it succeeded). */
export async function recordDeadLetterAttempt(
  db: DbOrTx,
  id: string,
  outcome: { error: string | null; resolved: boolean },
) {
  const [row] = await db
    .update(deadLetters)
    .set({
      attempts: sql`${deadLetters.attempts} + 1`,
      lastAttemptAt: sql`now()`,
      lastError: outcome.error,
      ...(outcome.resolved ? { resolvedAt: sql`now()` } : {}),
    })
    .where(and(eq(deadLetters.id, id), isNull(deadLetters.resolvedAt)))
    .returning(deadLetterColumns);
  return row ?? null;
}

/**
 * Marks an open dead letter resolved without retrying it, with a note (who dismissed it) in its last
 * error. Null when it is not open (or not there).
 */
export async function dismissDeadLetter(db: DbOrTx, id: string, note: string) {
  const [row] = await db
    .update(deadLetters)
    .set({ resolvedAt: sql`now()`, lastError: note })
    .where(and(eq(deadLetters.id, id), isNull(deadLetters.resolvedAt)))
    .returning(deadLetterColumns);
  return row ?? null;
}
