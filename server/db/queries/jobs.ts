import { type SQL, sql } from 'drizzle-orm';

/**
 * An INSERT of jobs into pg-boss's table, for use inside a larger statement (a CTE), so a job can be
 * enqueued in the very statement that stores what it works on. `rows` is a SELECT giving a `data`
 * (jsonb) and a `start_after` (timestamptz) column per job. The queue's own options (retries, backoff,
 * expiry, retention, dead letter, policy) are read from `pgboss.queue` the way pg-boss 10's `send`
 * applies them to a job without options of its own; tests/db/database.test.ts compares the two rows.
 */
export function enqueueJobsSql(name: string, rows: SQL, opts: { singletonKey?: boolean } = {}): SQL {
  // With `singletonKey`, `rows` also gives a `singleton_key` (text) column: on a queue with the `short`
  // policy, a job whose key already waits (state created) is not inserted.
  const keyColumn = opts.singletonKey ? sql`, singleton_key` : sql``;
  const keyValue = opts.singletonKey ? sql`, r.singleton_key` : sql``;
  return sql`insert into pgboss.job
      (name, data, start_after, expire_in, keep_until, retry_limit, retry_delay, retry_backoff, dead_letter, policy${keyColumn})
    select q.name, r.data, r.start_after,
      coalesce(q.expire_seconds * interval '1s', interval '15 minutes'),
      r.start_after + cast(coalesce((q.retention_minutes * 60)::text, '14 days') as interval),
      coalesce(q.retry_limit, 2),
      case when coalesce(q.retry_backoff, false) then greatest(q.retry_delay, 1) else coalesce(q.retry_delay, 0) end,
      coalesce(q.retry_backoff, false),
      q.dead_letter,
      q.policy${keyValue}
    from (${rows}) r join pgboss.queue q on q.name = ${name}::text
    on conflict do nothing
    returning id`;
}
