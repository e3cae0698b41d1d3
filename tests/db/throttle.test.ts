import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../server/config';
import { pushThrottle, reserveSlot } from '../../server/db/queries/throttles';
import { createTestRuntime, type TestRuntime } from '../helpers/runtime';

let t: TestRuntime;
beforeAll(async () => {
  t = await createTestRuntime({}, { workers: false });
});
afterAll(async () => {
  await t?.close();
});

/** A bucket's next slot in microseconds since the epoch (timestamptz's own resolution). */
async function nextSlotMicros(name: string): Promise<number> {
  const [row] = await t.runtime.database.sql<Array<{ us: string }>>`
    select (extract(epoch from next_slot_at) * 1000000)::bigint::text as us from throttles where name = ${name}`;
  return Number(row!.us);
}

let n = 0;

describe('the send throttle', () => {
  it('accepts send rates above 6,000 a minute, up to 600,000', () => {
    expect(loadConfig({ SEND_RATE_PER_MINUTE: '60000' }).pipeline.sendRatePerMinute).toBe(60_000);
    expect(loadConfig({ SEND_RATE_PER_MINUTE: '600000' }).pipeline.sendRatePerMinute).toBe(600_000);
    expect(() => loadConfig({ SEND_RATE_PER_MINUTE: '600001' })).toThrow(/SEND_RATE_PER_MINUTE/);
    expect(() => loadConfig({ SEND_RATE_PER_MINUTE: '0' })).toThrow(/SEND_RATE_PER_MINUTE/);
  });

  it('spaces reserved slots by 60,000 / rate milliseconds at every rate, to the microsecond', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 600_000 }),
        fc.integer({ min: 2, max: 40 }),
        async (ratePerMinute, k) => {
          const name = `bench-${++n}`;
          const stepMs = 60_000 / ratePerMinute;
          // A bucket pushed well into the future: every reservation queues behind the previous one.
          await pushThrottle(t.runtime.database.db, name, new Date(Date.now() + 3_600_000));
          const start = await nextSlotMicros(name);
          for (let i = 0; i < k; i++) await reserveSlot(t.runtime.database.db, name, stepMs);
          const spent = (await nextSlotMicros(name)) - start;
          // k slots take k steps; each step is rounded to a whole microsecond at most.
          expect(Math.abs(spent - k * stepMs * 1000)).toBeLessThanOrEqual(k * 0.5 + 1);
        },
      ),
      { numRuns: 40 },
    );
  });
});
