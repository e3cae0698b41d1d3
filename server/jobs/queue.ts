import { type SQL, sql } from 'drizzle-orm';
import PgBoss from 'pg-boss';
import type { Database } from '../db/client';
import type { DbOrTx } from '../db/types';
import type { Logger } from '../logger';

export type JobHandler<T> = (job: { id: string; data: T; retryCount: number }) => Promise<void>;

export interface QueueDefinition {
  name: string;
  retryLimit?: number;
  retryDelay?: number;
  retryBackoff?: boolean;
  expireInSeconds?: number;
  policy?: 'standard' | 'short' | 'singleton' | 'stately';
}

export interface EnqueueOptions {
  singletonKey?: string;
  startAfter?: Date | number;
  retryLimit?: number;
  /** Enqueue inside this transaction: the job exists if and only if the transaction commits. */
  tx?: DbOrTx;
}

/** Durable jobs over pg-boss, on whichever database this process opened. */
export interface JobQueue {
  define(def: QueueDefinition): Promise<void>;
  send<T extends object>(name: string, data: T, opts?: EnqueueOptions): Promise<string | null>;
  work<T>(
    name: string,
    opts: { concurrency?: number; pollingIntervalSeconds?: number },
    handler: JobHandler<T>,
  ): Promise<void>;
  /** Wakes this process's workers of a queue now instead of at their next poll. */
  wake(name: string): void;
  /** True when the queue's tables answer. */
  ping(): Promise<boolean>;
  stop(opts?: { timeoutMs?: number }): Promise<void>;
  readonly boss: PgBoss;
}

/**
 * pg-boss talks through the same postgres.js client as the rest of the server, so it works the same on
 * PGlite and on Postgres, and can enqueue inside an application transaction.
 */
export async function startJobQueue(
  database: Database,
  log: Logger,
  opts: { supervise: boolean; maintenanceSeconds?: number },
): Promise<JobQueue> {
  const boss = new PgBoss({
    db: {
      executeSql: async (text: string, values: unknown[] = []) => {
        const params = values.map(toParam) as never[];
        const run = async () => {
          // pg-boss sends some work as one BEGIN ... COMMIT script, which needs a connection of its own.
          if (!/\bBEGIN\b/i.test(text)) return { rows: await database.sql.unsafe(text, params) };
          const reserved = await database.sql.reserve();
          try {
            return { rows: await reserved.unsafe(text, params) };
          } finally {
            reserved.release();
          }
        };
        if (!isJobCompletion(text)) return run();
        return completeSafely(run, log);
      },
    },
    schema: 'pgboss',
    supervise: opts.supervise,
    maintenanceIntervalSeconds: opts.maintenanceSeconds ?? 15,
    schedule: false,
    migrate: true,
  });
  boss.on('error', (err: Error) => log.error({ err }, 'job queue error'));
  await boss.start();

  const defined = new Set<string>();
  const workers = new Map<string, string[]>();
  return {
    boss,
    async define(def) {
      if (defined.has(def.name)) return;
      const existing = await boss.getQueue(def.name);
      const { name, ...options } = def;
      if (existing) await boss.updateQueue(name, { name, ...options });
      else await boss.createQueue(name, { name, ...options });
      defined.add(def.name);
    },
    async send(name, data, o = {}) {
      const { tx, startAfter, ...rest } = o;
      const options: PgBoss.SendOptions = { ...rest };
      if (startAfter !== undefined)
        options.startAfter = startAfter instanceof Date ? startAfter : new Date(startAfter);
      if (tx) options.db = transactionExecutor(tx);
      return boss.send(name, data, options);
    },
    async work(name, o, handler) {
      const concurrency = o.concurrency ?? 1;
      for (let i = 0; i < concurrency; i++) {
        const id = await boss.work<object>(
          name,
          { batchSize: 1, pollingIntervalSeconds: o.pollingIntervalSeconds ?? 0.5, includeMetadata: true },
          async ([job]) => {
            if (!job) return;
            await handler({ id: job.id, data: job.data as never, retryCount: job.retryCount });
          },
        );
        workers.set(name, [...(workers.get(name) ?? []), id]);
      }
    },
    wake(name) {
      for (const id of workers.get(name) ?? []) boss.notifyWorker(id);
    },
    async ping() {
      try {
        await database.sql`select 1 from pgboss.version limit 1`;
        return true;
      } catch {
        return false;
      }
    },
    async stop(s = {}) {
      await boss.stop({ graceful: true, wait: true, timeout: s.timeoutMs ?? 10_000 });
    },
  };
}

/**
 * The statements pg-boss 10 runs when a handler has finished (complete) or thrown (fail by id). Its
 * worker loop issues them without awaiting them, so a rejection there (a dropped connection, the
 * database restarting) is unhandled and would end the whole process.
 */
const COMPLETE_JOBS = /SET completed_on = now\(\),\s*state = 'completed',/;
const FAIL_JOBS_BY_ID =
  /WHERE name = \$1 AND id IN \(SELECT UNNEST\(\$2::uuid\[\]\)\) AND state < 'completed'/;
const isJobCompletion = (text: string) => COMPLETE_JOBS.test(text) || FAIL_JOBS_BY_ID.test(text);

/**
 * Runs a completion statement, retrying briefly (both statements only act on jobs still active or
 * retrying, so running one twice is harmless). When the database stays unreachable the completion is
 * given up with a warning instead of crashing: the job stays active, expires after its timeout and
 * runs again, and the handlers tolerate a second run.
 */
async function completeSafely(run: () => Promise<{ rows: unknown[] }>, log: Logger) {
  for (const delayMs of [100, 500, 2000]) {
    try {
      return await run();
    } catch {
      await new Promise((r) => setTimeout(r, delayMs));
    }
  }
  try {
    return await run();
  } catch (err) {
    log.warn({ err }, 'could not record a finished job; it will run again after its timeout');
    return { rows: [{ count: 0 }] };
  }
}

/**
 * pg-boss hands its parameters to node-postgres style drivers. The shared client has Drizzle's
 * passthrough JSON and timestamp serializers, so plain objects are sent as JSON text, dates as ISO
 * text, and undefined as null.
 */
function toParam(v: unknown) {
  if (v === undefined) return null;
  if (
    v !== null &&
    typeof v === 'object' &&
    !(v instanceof Date) &&
    !Array.isArray(v) &&
    !Buffer.isBuffer(v)
  ) {
    return JSON.stringify(v);
  }
  return v;
}

/** pg-boss's statements, run on an open Drizzle transaction (positional parameters kept). */
function transactionExecutor(tx: DbOrTx): PgBoss.Db {
  return {
    async executeSql(text: string, values: unknown[] = []) {
      const rows = await tx.execute(positional(text, values));
      return { rows: [...rows] };
    },
  };
}

function positional(text: string, values: unknown[]): SQL {
  const chunks: SQL[] = [];
  let last = 0;
  for (const m of text.matchAll(/\$(\d+)/g)) {
    chunks.push(sql.raw(text.slice(last, m.index)));
    chunks.push(sql`${toParam(values[Number(m[1]) - 1])}`);
    last = (m.index ?? 0) + m[0].length;
  }
  chunks.push(sql.raw(text.slice(last)));
  return sql.join(chunks);
}

/**
 * An INSERT of jobs into pg-boss's table, for use inside a larger statement (a CTE), so a job can be
 * enqueued in the very statement that stores what it works on. `rows` is a SELECT giving a `data`
 * (jsonb) and a `start_after` (timestamptz) column per job. The queue's own options (retries, backoff,
 * expiry, retention, dead letter, policy) are read from `pgboss.queue` the way pg-boss 10's `send`
 * applies them to a job without options of its own; tests/jobs/queue.test.ts compares the two rows.
 */
export function enqueueJobsSql(name: string, rows: SQL): SQL {
  return sql`insert into pgboss.job
      (name, data, start_after, expire_in, keep_until, retry_limit, retry_delay, retry_backoff, dead_letter, policy)
    select q.name, r.data, r.start_after,
      coalesce(q.expire_seconds * interval '1s', interval '15 minutes'),
      r.start_after + cast(coalesce((q.retention_minutes * 60)::text, '14 days') as interval),
      coalesce(q.retry_limit, 2),
      case when coalesce(q.retry_backoff, false) then greatest(q.retry_delay, 1) else coalesce(q.retry_delay, 0) end,
      coalesce(q.retry_backoff, false),
      q.dead_letter,
      q.policy
    from (${rows}) r join pgboss.queue q on q.name = ${name}::text
    on conflict do nothing
    returning id`;
}
