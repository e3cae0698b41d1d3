import { eq, type SQL, sql } from 'drizzle-orm';
import { throttles } from '../../../drizzle';
import type { DbOrTx } from '../types';
import { builtOnce } from './prepared';

/**
 * The send throttle: one row per bucket (`throttles`), holding the time its next slot starts. Every
 * process reserves slots from the same row, so a bucket's rate holds across processes.
 */

/**
 * The gap between two slots as a Postgres interval, in whole microseconds (the resolution of
 * timestamptz). Whole milliseconds would round the gap of rates above 60,000 a minute (a 0.6 ms gap
 * taken as 1 ms sends at 60% of the rate; above 120,000 a minute the gap rounds to nothing).
 */
export function throttleStep(intervalMs: number): SQL {
  return sql.raw(`interval '${stepMicros(intervalMs)} microseconds'`);
}

/** The gap between two slots in whole microseconds (see throttleStep). */
export const stepMicros = (intervalMs: number) => Math.max(0, Math.round(intervalMs * 1000));

/** The gap of a statement built once, given per call as the `micros` placeholder (see stepMicros). */
export const placeholderStep = () => sql`(${sql.placeholder('micros')}::bigint * interval '1 microsecond')`;

const reserve = builtOnce((db) => {
  const step = placeholderStep();
  return db
    .insert(throttles)
    .values({ name: sql.placeholder('name'), nextSlotAt: sql`clock_timestamp() + ${step}` })
    .onConflictDoUpdate({
      target: throttles.name,
      set: { nextSlotAt: sql`greatest(${throttles.nextSlotAt}, clock_timestamp()) + ${step}` },
    })
    .returning({ slot: sql<Date>`${throttles.nextSlotAt} - ${step}`.mapWith(throttles.nextSlotAt) });
});

/**
 * Reserves the next send slot of a throttle bucket: slots are `intervalMs` apart across every process.
 * Returns when the slot starts.
 */
export async function reserveSlot(db: DbOrTx, name: string, intervalMs: number): Promise<Date> {
  const [row] = await reserve(db).execute({ name, micros: stepMicros(intervalMs) });
  return row!.slot;
}

/** After a rate-limit answer, nobody uses the bucket before `until`. */
export async function pushThrottle(db: DbOrTx, name: string, until: Date) {
  await db
    .insert(throttles)
    .values({ name, nextSlotAt: until })
    .onConflictDoUpdate({
      target: throttles.name,
      set: { nextSlotAt: sql`greatest(${throttles.nextSlotAt}, ${until.toISOString()}::timestamptz)` },
    });
}

/** Creates throttle buckets that do not exist yet (their first slot is free now). */
export async function ensureThrottles(db: DbOrTx, names: string[]) {
  await db
    .insert(throttles)
    .values(names.map((name) => ({ name })))
    .onConflictDoNothing();
}

const epochMs = (value: SQL) => sql`(extract(epoch from ${value}) * 1000)::float8`;

/**
 * Reserves the next slot of an existing bucket in one statement (reserveSlot without
 * its insert): slots are `stepMs` apart. Returns the slot's time in epoch ms, or null without a bucket.
 */
export async function reserveNextSlot(db: DbOrTx, name: string, stepMs: number): Promise<number | null> {
  const step = throttleStep(stepMs);
  const rows = await db.execute<{ slot: number }>(sql`
    update ${throttles} set next_slot_at = greatest(next_slot_at, clock_timestamp()) + ${step}
    where name = ${name}
    returning ${epochMs(sql`next_slot_at - ${step}`)} as slot`);
  return rows[0] ? Number(rows[0].slot) : null;
}

export async function deleteThrottle(db: DbOrTx, name: string) {
  await db.delete(throttles).where(eq(throttles.name, name));
}
