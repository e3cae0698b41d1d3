import { setTimeout as wait } from 'node:timers/promises';

/** Waits `ms`; an abort of `signal` ends the wait early (it resolves, it does not throw). */
export async function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  try {
    await wait(ms, undefined, signal ? { signal } : undefined);
  } catch (err) {
    if (!signal?.aborted) throw err;
  }
}
