import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Database, openDatabase } from '../../server/db/client';
import { type JobQueue, startJobQueue } from '../../server/jobs/queue';
import { silentLogger } from '../helpers/log';
import { waitUntil } from '../helpers/reliability';
import { createTestRuntime, type TestRuntime } from '../helpers/runtime';

/**
 * The job workers: how they find work. Polling is set to an hour in these tests, so a job handled
 * within the (generous) bounds below was found by the mechanism under test, not by a poll.
 */
const AN_HOUR = 3600;
const BOUND_MS = 30_000;

let t: TestRuntime;
let queue: JobQueue;
let n = 0;
const queueName = (what: string) => `test.${what}.${++n}`;

beforeAll(async () => {
  t = await createTestRuntime({}, { workers: false });
  queue = t.runtime.queue;
});
afterAll(async () => {
  await t?.close();
});

describe('draining a queue', () => {
  it('a worker takes the next due job as soon as one finishes, without waiting for a poll', async () => {
    const name = queueName('drain');
    await queue.define({ name });
    const done: number[] = [];
    await queue.work<{ i: number }>(
      name,
      { concurrency: 2, pollingIntervalSeconds: AN_HOUR },
      async (job) => {
        done.push(job.data.i);
      },
    );
    for (let i = 0; i < 25; i++) await queue.send(name, { i });
    queue.wake(name);
    await waitUntil('every job handled', () => done.length === 25, { timeoutMs: BOUND_MS });
    expect([...done].sort((a, b) => a - b)).toEqual(Array.from({ length: 25 }, (_, i) => i));
  });

  it('runs up to `concurrency` jobs of a queue at the same time, never more', async () => {
    const name = queueName('concurrency');
    await queue.define({ name });
    let running = 0;
    let most = 0;
    let finished = 0;
    await queue.work(name, { concurrency: 4, pollingIntervalSeconds: AN_HOUR }, async () => {
      running++;
      most = Math.max(most, running);
      await new Promise((r) => setTimeout(r, 20));
      running--;
      finished++;
    });
    for (let i = 0; i < 16; i++) await queue.send(name, { i });
    queue.wake(name);
    await waitUntil('every job handled', () => finished === 16, { timeoutMs: BOUND_MS });
    expect(most).toBe(4);
  });

  it.runIf(process.env.DATABASE_URL)(
    "a job's slot is free once its handler is done, while its completion is still being recorded",
    async () => {
      const name = queueName('slot');
      await queue.define({ name });
      const sql = t.runtime.database.sql;
      let release!: () => void;
      const released = new Promise<void>((r) => {
        release = r;
      });
      let locked!: () => void;
      const lockHeld = new Promise<void>((r) => {
        locked = r;
      });
      let holder: Promise<unknown> | null = null;
      const started: number[] = [];
      await queue.work<{ i: number }>(
        name,
        { concurrency: 1, pollingIntervalSeconds: AN_HOUR },
        async (job) => {
          started.push(job.data.i);
          if (job.data.i !== 0) return;
          // The first job's row stays locked after its handler returns: its completion has to wait.
          holder = sql.begin(async (tx) => {
            await tx`select 1 from pgboss.job where id = ${job.id} for update`;
            locked();
            await released;
          });
          await lockHeld;
        },
      );
      await queue.send(name, { i: 0 });
      queue.wake(name);
      await waitUntil('the first job started', () => started.length === 1, { timeoutMs: BOUND_MS });
      await queue.send(name, { i: 1 });
      queue.wake(name);
      await waitUntil('the second job started', () => started.length === 2, { timeoutMs: BOUND_MS });
      const [first] = await sql<Array<{ state: string }>>`
        select state from pgboss.job where name = ${name} and data->>'i' = '0'`;
      expect(first?.state).toBe('active');
      release();
      await holder;
      await waitUntil(
        'both jobs completed',
        async () => {
          const rows = await sql`select 1 from pgboss.job where name = ${name} and state = 'completed'`;
          return rows.length === 2;
        },
        { timeoutMs: BOUND_MS },
      );
    },
  );

  it('a delayed job starts when it falls due, without a poll or another wake', async () => {
    const name = queueName('delayed');
    await queue.define({ name });
    const done: string[] = [];
    await queue.work(name, { concurrency: 1, pollingIntervalSeconds: AN_HOUR }, async (job) => {
      done.push(job.id);
    });
    const id = await queue.send(name, { x: 1 }, { startAfter: new Date(Date.now() + 300) });
    queue.wake(name);
    await waitUntil('the delayed job handled', () => done.includes(id!), { timeoutMs: BOUND_MS });
  });

  it('a failing job is failed alone; the others of its batch complete', async () => {
    const name = queueName('fail-one');
    await queue.define({ name, retryLimit: 0 });
    await queue.work<{ i: number }>(
      name,
      { concurrency: 5, pollingIntervalSeconds: AN_HOUR },
      async (job) => {
        if (job.data.i === 2) throw new Error('boom');
      },
    );
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push((await queue.send(name, { i }))!);
    queue.wake(name);
    const states = async () =>
      t.runtime.database.sql<Array<{ id: string; state: string }>>`
        select id::text, state::text from pgboss.job where name = ${name} order by id`;
    const rows = await waitUntil(
      'every job finished',
      async () => {
        const r = await states();
        return r.length === 5 && r.every((x) => x.state === 'completed' || x.state === 'failed') && r;
      },
      { timeoutMs: BOUND_MS },
    );
    const failed = rows.filter((r) => r.state === 'failed').map((r) => r.id);
    expect(failed).toEqual([ids[2]]);
  });
});

describe('completions', () => {
  it('jobs finishing together are each completed once, in fewer statements than jobs, and run once', async () => {
    const name = queueName('grouped');
    await queue.define({ name, retryLimit: 3 });
    const runs = new Map<number, number>();
    await queue.work<{ i: number }>(
      name,
      { concurrency: 20, pollingIntervalSeconds: AN_HOUR },
      async (job) => {
        runs.set(job.data.i, (runs.get(job.data.i) ?? 0) + 1);
        // Finish together: the completions of many jobs are due at the same moment.
        await new Promise((r) => setTimeout(r, 10));
      },
    );
    for (let i = 0; i < 60; i++) await queue.send(name, { i });
    queue.wake(name);
    const rows = await waitUntil(
      'every job completed',
      async () => {
        const r = await t.runtime.database.sql<Array<{ state: string; completedOn: string }>>`
          select state::text, completed_on::text as "completedOn" from pgboss.job where name = ${name}`;
        return r.length === 60 && r.every((x) => x.state === 'completed') && r;
      },
      { timeoutMs: BOUND_MS },
    );
    expect([...runs.keys()].sort((a, b) => a - b)).toEqual(Array.from({ length: 60 }, (_, i) => i));
    expect([...runs.values()].every((v) => v === 1)).toBe(true);
    // completed_on is the statement's transaction time: jobs completed together share it.
    const statements = new Set(rows.map((r) => r.completedOn)).size;
    expect(statements).toBeLessThan(60);
  });
});

describe('fresh jobs before a backlog', () => {
  it('jobs that fell due recently are started before jobs due for longer, whatever the order they were enqueued in', async () => {
    await fc.assert(
      fc.asyncProperty(
        // Each job: fresh (due now) or backlog (due this many seconds ago), in enqueue order.
        fc.array(fc.option(fc.integer({ min: 31, max: 86_400 }), { nil: null }), {
          minLength: 2,
          maxLength: 12,
        }),
        async (ages) => {
          const name = queueName('fresh');
          await queue.define({ name });
          const ids: string[] = [];
          for (const age of ages) {
            const startAfter = age === null ? undefined : new Date(Date.now() - age * 1000);
            ids.push((await queue.send(name, {}, startAfter ? { startAfter } : {}))!);
          }
          const order: string[] = [];
          await queue.work(
            name,
            { concurrency: 1, pollingIntervalSeconds: AN_HOUR, freshSeconds: 30 },
            async (job) => {
              order.push(job.id);
            },
          );
          queue.wake(name);
          await waitUntil('every job handled', () => order.length === ages.length, { timeoutMs: BOUND_MS });
          const fresh = ids.filter((_, i) => ages[i] === null);
          const backlog = ids.filter((_, i) => ages[i] !== null);
          // Fresh ones first, in the order they were enqueued; then the backlog, oldest enqueued first.
          expect(order).toEqual([...fresh, ...backlog]);
        },
      ),
      { numRuns: 8 },
    );
  });
});

describe.skipIf(!process.env.DATABASE_URL)('workers in another process (real Postgres)', () => {
  let other: Database;
  let otherQueue: JobQueue;
  beforeAll(async () => {
    // A second connection set and job queue on the same database: a worker-only process.
    other = await openDatabase({
      url: t.runtime.database.url,
      poolMax: 4,
      prepare: true,
      dataDir: 'memory://',
    });
    otherQueue = await startJobQueue(other, silentLogger, { supervise: false });
  });
  afterAll(async () => {
    await otherQueue?.stop({ timeoutMs: 1000 });
    await other?.close();
  });

  it('a job enqueued by a web process wakes the workers of a worker process', async () => {
    const name = queueName('cross');
    await queue.define({ name });
    const done: number[] = [];
    await otherQueue.work<{ i: number }>(
      name,
      { concurrency: 2, pollingIntervalSeconds: AN_HOUR },
      async (job) => {
        done.push(job.data.i);
      },
    );
    // The worker is listening and idle once it has handled a first job.
    await queue.send(name, { i: 0 });
    queue.wake(name);
    await waitUntil('the first job handled', () => done.includes(0), { timeoutMs: BOUND_MS });
    // Now the web side enqueues again: only its notification can wake the idle worker.
    for (let i = 1; i <= 3; i++) await queue.send(name, { i });
    queue.wake(name);
    await waitUntil('jobs enqueued by the other process handled', () => done.length === 4, {
      timeoutMs: BOUND_MS,
    });
    expect([...done].sort()).toEqual([0, 1, 2, 3]);
  });
});
