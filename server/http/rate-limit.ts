/**
 * Fixed-window request counters for the HTTP host, kept in this process's memory (each process of
 * a scaled-out deployment counts on its own). A bucket is any string: the host names them by what is
 * counted (a key id, a client IP and whether its credentials were valid). Memory stays bounded by the
 * requests of one window: the counters of a finished window are dropped whole.
 */
export interface RateLimiter {
  /**
   * Spends `cost` units of `bucket` in the current window. `ok` is false when the bucket had fewer
   * than `cost` units left (nothing is spent then); `retryAfterSeconds` says when the window resets.
   */
  take(bucket: string, max: number, cost?: number): { ok: boolean; retryAfterSeconds: number };
  /** True when `bucket` has nothing left in the current window (spends nothing). */
  exhausted(bucket: string, max: number): boolean;
}

export function createRateLimiter(opts: { windowMs?: number; now?: () => number } = {}): RateLimiter {
  const windowMs = opts.windowMs ?? 60_000;
  const now = opts.now ?? Date.now;
  let windowStart = 0;
  let counts = new Map<string, number>();

  function roll(): number {
    const t = now();
    if (t - windowStart >= windowMs) {
      windowStart = t;
      counts = new Map();
    }
    return Math.max(1, Math.ceil((windowStart + windowMs - t) / 1000));
  }

  return {
    take(bucket, max, cost = 1) {
      const retryAfterSeconds = roll();
      const used = counts.get(bucket) ?? 0;
      if (used + cost > max) {
        return { ok: false, retryAfterSeconds };
      }
      counts.set(bucket, used + cost);
      return { ok: true, retryAfterSeconds };
    },
    exhausted(bucket, max) {
      roll();
      return (counts.get(bucket) ?? 0) >= max;
    },
  };
}
