import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { contacts } from '../../drizzle';
import { openDatabase } from '../../server/db/client';
import { runMigrations } from '../../server/db/migrate';
import { enqueueJobsSql } from '../../server/db/queries/jobs';
import { createTestRuntime, type TestRuntime } from '../helpers/runtime';

let t: TestRuntime;
beforeAll(async () => {
  t = await createTestRuntime({}, { workers: true });
});
afterAll(() => t?.close());

describe('migrations', () => {
  it('are idempotent: applying them again changes nothing', async () => {
    const { database } = t.runtime;
    const before = await database.sql`select count(*)::int as n from drizzle.__drizzle_migrations`;
    await runMigrations(database);
    await runMigrations(database);
    const after = await database.sql`select count(*)::int as n from drizzle.__drizzle_migrations`;
    expect(after[0]!.n).toBe(before[0]!.n);
    expect(before[0]!.n).toBeGreaterThan(0);
  });

  it('leave no table of ours without row level security', async () => {
    const rows = await t.runtime.database.sql<{ relname: string; relrowsecurity: boolean }[]>`
      select c.relname, c.relrowsecurity from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where n.nspname = 'public' and c.relkind = 'r'`;
    expect(rows.length).toBeGreaterThanOrEqual(11);
    expect(rows.filter((r) => !r.relrowsecurity).map((r) => r.relname)).toEqual([]);
  });

  it('enforce one contact per E.164 phone and reject non-E.164 phones', async () => {
    const { db } = t.runtime.database;
    await db.insert(contacts).values({ phone: '+14155550101' });
    await expect(db.insert(contacts).values({ phone: '+14155550101' })).rejects.toThrow();
    await expect(db.insert(contacts).values({ phone: '4155550101' })).rejects.toThrow();
    const rows = await db.select().from(contacts).where(sql`${contacts.phone} = '+14155550101'`);
    expect(rows).toHaveLength(1);
  });
});

describe('job queue', () => {
  it('runs a job enqueued in a committed transaction, and never one from a rolled-back transaction', async () => {
    const { queue, database } = t.runtime;
    await queue.define({ name: 'test.echo' });
    const seen: string[] = [];
    await queue.work<{ label: string }>('test.echo', { pollingIntervalSeconds: 0.5 }, async (job) => {
      seen.push(job.data.label);
    });

    await database.db
      .transaction(async (tx) => {
        await queue.send('test.echo', { label: 'rolled-back' }, { tx });
        throw new Error('abort');
      })
      .catch(() => {});
    await database.db.transaction(async (tx) => {
      await tx.insert(contacts).values({ phone: '+14155550102' });
      await queue.send('test.echo', { label: 'committed' }, { tx });
    });

    await expect.poll(() => seen, { timeout: 15_000, interval: 100 }).toContain('committed');
    // Give a rolled-back job every chance to show up before asserting it never does.
    await new Promise((r) => setTimeout(r, 1500));
    expect(seen).toEqual(['committed']);
  });

  it('enqueues from inside a statement with the same options as pg-boss gives a sent job', async () => {
    const { queue, database } = t.runtime;
    await queue.define({
      name: 'test.inline',
      retryLimit: 4,
      retryDelay: 3,
      retryBackoff: true,
      expireInSeconds: 90,
    });
    await queue.send('test.inline', { via: 'send' });
    await database.db.execute(
      sql`with j as (${enqueueJobsSql('test.inline', sql`select '{"via":"statement"}'::jsonb as data, now() as start_after`)}) select count(*) from j`,
    );
    const rows = await database.sql<Array<Record<string, unknown>>>`
      select data->>'via' as via, state, priority, retry_limit, retry_delay, retry_backoff, expire_in::text,
        dead_letter, policy, (keep_until - start_after)::text as kept, singleton_key
      from pgboss.job where name = 'test.inline' order by data->>'via'`;
    expect(rows).toHaveLength(2);
    const [fromSend, fromStatement] = [{ ...rows[0] }, { ...rows[1] }];
    expect(fromSend.via).toBe('send');
    expect(fromStatement).toEqual({ ...fromSend, via: 'statement' });
    expect(fromStatement).toMatchObject({
      retry_limit: 4,
      retry_delay: 3,
      retry_backoff: true,
      state: 'created',
    });
  });
});

describe.skipIf(Boolean(process.env.DATABASE_URL))('embedded database', () => {
  it('is created in the data folder on first start and keeps its data across restarts', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'wcb-data-'));
    try {
      const opts = { url: undefined, poolMax: 1, prepare: true, dataDir: dir };
      const first = await openDatabase(opts);
      await runMigrations(first);
      await first.db.insert(contacts).values({ phone: '+14155550103', name: 'Kept' });
      await first.close();

      const second = await openDatabase(opts);
      await runMigrations(second);
      const rows = await second.db.select({ name: contacts.name }).from(contacts);
      await second.close();
      expect(rows).toEqual([{ name: 'Kept' }]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
