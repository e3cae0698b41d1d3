import { randomUUID } from 'node:crypto';
import PgBoss from 'pg-boss';
import type { Sql } from 'postgres';
import type { Database } from '../db/client';
import type { DbOrTx } from '../db/types';
import type { Logger } from '../logger';
import { sleep } from '../sleep';

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

export interface WorkOptions {
  /** Jobs of this queue one process runs at the same time. */
  concurrency?: number;
  /**
   * How often an idle worker looks for due jobs anyway. Workers are woken when a job is enqueued (in
   * this process or, on Postgres, in another one) and when a delayed job falls due, so this is a
   * safety net, not the pace of work.
   */
  pollingIntervalSeconds?: number;
  /**
   * A job due for longer than this without being started is a backlog: jobs that fell due more
   * recently are started first, so a fresh conversation does not wait behind a replayed backlog.
   * Unset: first due, first started.
   */
  freshSeconds?: number;
}

/** Durable jobs over pg-boss, on whichever database this process opened. */
export interface JobQueue {
  define(def: QueueDefinition): Promise<void>;
  send<T extends object>(name: string, data: T, opts?: EnqueueOptions): Promise<string | null>;
  work<T>(name: string, opts: WorkOptions, handler: JobHandler<T>): Promise<void>;
  /**
   * Tells the workers of a queue that jobs were enqueued (call it after the enqueue committed): this
   * process's workers at once and, on Postgres, every other process's through a notification.
   * `local` skips the notification (for follow-up work this process's own workers will take).
   */
  wake(name: string, opts?: { local?: boolean }): void;
  /** True when the queue's tables answer. */
  ping(): Promise<boolean>;
  stop(opts?: { timeoutMs?: number }): Promise<void>;
  readonly boss: PgBoss;
}

/** The channel on which processes tell each other's workers that a queue has new jobs. */
export const JOBS_CHANNEL = 'wcb_jobs';

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
  const runners = new Map<string, Runner[]>();
  /** Tells notifications of this process apart from other processes'. */
  const instance = randomUUID();
  let listener: Promise<{ unlisten(): Promise<void> } | null> | null = null;

  const wakeLocal = (name: string) => {
    for (const r of runners.get(name) ?? []) r.wake();
  };
  /** Workers on Postgres hear of jobs enqueued by other processes (web-only ones, other workers). */
  function listen() {
    if (database.mode !== 'postgres' || listener) return;
    listener = database.sql
      .listen(
        JOBS_CHANNEL,
        (payload) => {
          const [name, from] = splitNotice(payload);
          if (from !== instance) wakeLocal(name);
        },
        // (Re)connected: notifications may have been missed meanwhile.
        () => {
          for (const name of runners.keys()) wakeLocal(name);
        },
      )
      .catch((err: unknown) => {
        log.warn({ err }, 'could not listen for jobs of other processes; workers poll instead');
        return null;
      });
  }

  // Notifications are gathered per turn of the event loop: many webhooks at once cost one statement.
  const toNotify = new Set<string>();
  let notifying = false;
  function notifyOthers(name: string) {
    if (database.mode !== 'postgres') return;
    toNotify.add(name);
    if (notifying) return;
    notifying = true;
    setImmediate(() => {
      notifying = false;
      const names = [...toNotify];
      toNotify.clear();
      database.sql
        .unsafe('select pg_notify($1, n) from unnest($2::text[]) n', [
          JOBS_CHANNEL,
          names.map((n) => `${n}|${instance}`),
        ] as never[])
        .catch((err: unknown) => log.warn({ err }, 'could not notify other processes of new jobs'));
    });
  }

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
      const queue = await boss.getQueue(name);
      // The fetch below is pg-boss's for its standard policies; keyed policies keep pg-boss's own.
      const keyed = queue?.policy === 'singleton' || queue?.policy === 'stately';
      const fetchSql = keyed ? null : fetchJobsSql(o.freshSeconds);
      // Jobs that finish while a completion is being recorded are completed together by the next one.
      const complete = groupedCompletions(async (ids) => {
        await boss.complete(name, ids);
      });
      const runner = createRunner({
        name,
        concurrency: Math.max(1, o.concurrency ?? 1),
        pollMs: (o.pollingIntervalSeconds ?? 2) * 1000,
        log,
        fetch: async (n) => {
          if (!fetchSql) {
            const jobs = await boss.fetch<object>(name, { batchSize: n, includeMetadata: true });
            return (jobs ?? []).map((j) => ({
              id: j.id,
              data: j.data,
              retryCount: j.retryCount,
              expireInSeconds: Number((j as unknown as { expireInSeconds: number }).expireInSeconds),
            }));
          }
          const rows = await database.sql.unsafe<FetchedJob[]>(fetchSql, [name, n] as never[], {
            prepare: true,
          });
          return rows.map((r) => ({ ...r, expireInSeconds: Number(r.expireInSeconds) }));
        },
        nextDueInMs: async () => {
          const [row] = await database.sql.unsafe<Array<{ ms: number | null }>>(NEXT_DUE_SQL, [name], {
            prepare: true,
          });
          return row?.ms == null ? null : Number(row.ms);
        },
        complete,
        fail: async (id, err) => {
          await boss.fail(name, id, { message: err instanceof Error ? err.message : String(err) });
        },
        handler: handler as JobHandler<unknown>,
      });
      runners.set(name, [...(runners.get(name) ?? []), runner]);
      listen();
      runner.start();
    },
    wake(name, w = {}) {
      wakeLocal(name);
      if (!w.local) notifyOthers(name);
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
      const timeoutMs = s.timeoutMs ?? 10_000;
      const all = [...runners.values()].flat();
      runners.clear();
      await Promise.all(all.map((r) => r.stop(timeoutMs)));
      const l = await listener;
      listener = null;
      await l?.unlisten().catch(() => {});
      await boss.stop({ graceful: true, wait: true, timeout: timeoutMs });
    },
  };
}

function splitNotice(payload: string): [string, string] {
  const at = payload.lastIndexOf('|');
  return at < 0 ? [payload, ''] : [payload.slice(0, at), payload.slice(at + 1)];
}

interface FetchedJob {
  id: string;
  data: unknown;
  retryCount: number;
  expireInSeconds: number;
}

/**
 * pg-boss 10's fetch for standard queues (the same claim: active, started, retry count), with one
 * change of order when `freshSeconds` is set: jobs due within the last `freshSeconds` come before
 * older due jobs, then pg-boss's own order (priority, creation).
 */
function fetchJobsSql(freshSeconds: number | undefined) {
  const fresh =
    freshSeconds === undefined
      ? ''
      : `(start_after >= now() - interval '${Math.max(0, Math.round(freshSeconds * 1000))} milliseconds') desc, `;
  return `
    with next as (
      select id from pgboss.job
      where name = $1 and state < 'active' and start_after < now()
      order by ${fresh}priority desc, created_on, id
      limit $2
      for update skip locked
    )
    update pgboss.job j set
      state = 'active',
      started_on = now(),
      retry_count = case when j.started_on is not null then j.retry_count + 1 else j.retry_count end
    from next
    where j.name = $1 and j.id = next.id
    returning j.id, j.data, j.retry_count as "retryCount",
      extract(epoch from j.expire_in)::float8 as "expireInSeconds"`;
}

/** Milliseconds until the queue's next delayed job falls due (pg-boss's index on name, start_after). */
const NEXT_DUE_SQL = `
  select (extract(epoch from min(start_after) - now()) * 1000)::float8 as ms
  from pgboss.job where name = $1 and state < 'active' and start_after > now()`;

interface Runner {
  start(): void;
  wake(): void;
  stop(timeoutMs: number): Promise<void>;
}

/**
 * One queue's workers in this process: up to `concurrency` jobs run at once. Jobs are fetched in
 * batches as large as the free slots; while the last fetch filled every free slot, more jobs may be
 * due, so the next fetch follows as soon as a job finishes. Once the queue is drained the runner
 * sleeps until it is woken (a job was enqueued), the next delayed job falls due, or the polling
 * interval passes. Finished jobs are completed in groups (see `groupedCompletions`), failed jobs one
 * by one, and one running past its queue's expiry is failed (pg-boss retries it) the way pg-boss's
 * own workers do. A job's slot is free as soon as its handler is done, not once its completion is
 * stored: workers do not wait for one another's completion statement (stop() still waits for it).
 */
function createRunner(p: {
  name: string;
  concurrency: number;
  pollMs: number;
  log: Logger;
  fetch(n: number): Promise<FetchedJob[]>;
  nextDueInMs(): Promise<number | null>;
  complete(id: string): Promise<void>;
  fail(id: string, err: unknown): Promise<void>;
  handler: JobHandler<unknown>;
}): Runner {
  /** Jobs until they are recorded as completed or failed (stop() waits for them). */
  const running = new Map<string, Promise<void>>();
  /** Jobs whose handler runs: at most `concurrency`. */
  const slots = new Set<string>();
  let stopping = false;
  let woken = false;
  let waiter: { on: 'wake' | 'slot'; done(): void } | null = null;
  let loop: Promise<void> | null = null;

  const signal = (kind: 'wake' | 'slot' | 'stop') => {
    if (kind === 'wake') woken = true;
    if (waiter && (kind === 'stop' || waiter.on === kind || kind === 'wake')) waiter.done();
  };
  const waitFor = (on: 'wake' | 'slot', ms: number) =>
    new Promise<void>((resolve) => {
      const timer = Number.isFinite(ms) ? setTimeout(() => finish(), Math.max(0, ms)) : null;
      const finish = () => {
        if (timer) clearTimeout(timer);
        waiter = null;
        resolve();
      };
      waiter = { on, done: finish };
    });

  function run(job: FetchedJob) {
    slots.add(job.id);
    const task = (async () => {
      try {
        try {
          await withinSeconds(
            p.handler({ id: job.id, data: job.data, retryCount: job.retryCount }),
            job.expireInSeconds,
          );
        } finally {
          // The slot is free once the handler is done: its completion is recorded meanwhile.
          slots.delete(job.id);
          signal('slot');
        }
        await p.complete(job.id);
      } catch (err) {
        await p.fail(job.id, err).catch((e: unknown) => p.log.warn({ err: e }, 'could not fail a job'));
      }
    })()
      .catch((err: unknown) => p.log.warn({ err, queue: p.name }, 'could not record a finished job'))
      .finally(() => running.delete(job.id));
    running.set(job.id, task);
  }

  async function work() {
    let moreDue = true;
    while (!stopping) {
      if (!moreDue && !woken) {
        // Drained: sleep until something is enqueued, the next delayed job is due, or the poll.
        const dueIn = await p.nextDueInMs().catch(() => null);
        if (!woken && !stopping) await waitFor('wake', Math.min(p.pollMs, (dueIn ?? Infinity) + 5));
        moreDue = true;
        continue;
      }
      const free = p.concurrency - slots.size;
      if (free <= 0) {
        await waitFor('slot', Number.POSITIVE_INFINITY);
        continue;
      }
      woken = false;
      let jobs: FetchedJob[] = [];
      try {
        jobs = await p.fetch(free);
      } catch (err) {
        p.log.warn({ err, queue: p.name }, 'fetching jobs failed');
        if (!stopping) await waitFor('wake', p.pollMs);
        continue;
      }
      for (const job of jobs) run(job);
      moreDue = jobs.length === free;
    }
  }

  return {
    start() {
      loop ??= work().catch((err: unknown) => p.log.error({ err, queue: p.name }, 'job worker stopped'));
    },
    wake: () => signal('wake'),
    async stop(timeoutMs) {
      stopping = true;
      signal('stop');
      await loop;
      const left = [...running.values()];
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        Promise.allSettled(left),
        new Promise((r) => {
          timer = setTimeout(r, timeoutMs);
        }),
      ]);
      clearTimeout(timer);
      // Jobs still running are given back: failed now, they are retried by whichever process runs next.
      for (const id of running.keys()) {
        await p.fail(id, new Error('The worker shut down while the job was running')).catch(() => {});
      }
    },
  };
}

/** Most jobs one completion statement records. */
const COMPLETION_BATCH = 200;

/**
 * Completions of one queue, recorded in as few statements as the load allows: the first finished
 * job is recorded at the next turn of the event loop with any others finished by then; jobs that
 * finish while a statement runs are gathered and recorded together when it returns. Each caller's
 * promise settles with its own batch's statement, so a job counts as done only once its completion
 * is stored. A statement that fails fails every job of its batch (their handlers' work is done; the
 * jobs stay active until they expire and run again, as a lost completion did before).
 */
function groupedCompletions(record: (ids: string[]) => Promise<void>) {
  let waiting: Array<{ id: string; resolve(): void; reject(err: unknown): void }> = [];
  let busy = false;
  async function drain() {
    while (waiting.length) {
      const batch = waiting.slice(0, COMPLETION_BATCH);
      waiting = waiting.slice(batch.length);
      try {
        await record(batch.map((b) => b.id));
        for (const b of batch) b.resolve();
      } catch (err) {
        for (const b of batch) b.reject(err);
      }
    }
    busy = false;
  }
  return (id: string) =>
    new Promise<void>((resolve, reject) => {
      waiting.push({ id, resolve, reject });
      if (busy) return;
      busy = true;
      setImmediate(() => void drain());
    });
}

/** Rejects when the work outlasts the job's expiry (the work itself is not stopped). */
function withinSeconds<T>(work: Promise<T>, seconds: number): Promise<T> {
  if (!Number.isFinite(seconds) || seconds <= 0) return work;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`handler execution exceeded ${Math.round(seconds * 1000)}ms`)),
      seconds * 1000,
    );
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
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
      await sleep(delayMs);
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

/**
 * pg-boss's statements, run on an open Drizzle transaction: straight on the postgres.js connection the
 * transaction holds (the handle Drizzle itself sends its statements through, so a statement is named
 * and prepared exactly as Drizzle's own are), with positional parameters as pg-boss gives them.
 */
function transactionExecutor(tx: DbOrTx): PgBoss.Db {
  const connection = connectionOf(tx);
  return {
    async executeSql(text: string, values: unknown[] = []) {
      const rows = await connection.unsafe(text, values.map(toParam) as never[]);
      return { rows: [...rows] };
    },
  };
}

/** The postgres.js connection of a Drizzle handle: the pool's client, or the transaction's. */
function connectionOf(db: DbOrTx): Sql {
  const client = (db as unknown as { session?: { client?: Sql } }).session?.client;
  if (!client) throw new Error('job queue: this database handle has no postgres.js connection');
  return client;
}
