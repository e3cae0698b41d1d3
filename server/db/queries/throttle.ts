import { type SQL, sql } from 'drizzle-orm';
import { throttles } from '../../../drizzle';
import type { DbOrTx } from '../types';

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
  const micros = Math.max(0, Math.round(intervalMs * 1000));
  return sql.raw(`interval '${micros} microseconds'`);
}

/**
 * Reserves the next send slot of a throttle bucket: slots are `intervalMs` apart across every process.
 * Returns when the slot starts.
 */
export async function reserveSlot(db: DbOrTx, name: string, intervalMs: number): Promise<Date> {
  const step = throttleStep(intervalMs);
  const [row] = await db
    .insert(throttles)
    .values({ name, nextSlotAt: sql`clock_timestamp() + ${step}` })
    .onConflictDoUpdate({
      target: throttles.name,
      set: { nextSlotAt: sql`greatest(${throttles.nextSlotAt}, clock_timestamp()) + ${step}` },
    })
    .returning({ slot: sql<Date>`${throttles.nextSlotAt} - ${step}`.mapWith(throttles.nextSlotAt) });
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
