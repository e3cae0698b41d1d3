import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { contacts } from '../../drizzle';
import { DataDirInUseError, openDatabase } from '../../server/db/client';
import {
  acquireDataDirLock,
  type DataDirHolder,
  type HeldDataDirLock,
  lockPathOf,
} from '../../server/db/data-dir-lock';
import { runMigrations } from '../../server/db/migrate';

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});
async function tempDir() {
  const d = await mkdtemp(path.join(os.tmpdir(), 'wcb-lock-'));
  dirs.push(d);
  return d;
}

/** A pid that is certainly not running: a child that has already exited. */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', '']);
  return r.pid!;
}

function ownRecord(): DataDirHolder {
  const stat = readFileSync('/proc/self/stat', 'utf8');
  return {
    pid: process.pid,
    startedAt: new Date().toISOString(),
    host: os.hostname(),
    command: 'elsewhere.ts',
    procStart: stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]!,
    bootId: readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim(),
    token: 'other-holder',
  };
}

const isHeld = (r: ReturnType<typeof acquireDataDirLock>): r is HeldDataDirLock => 'release' in r;

describe('the data folder lock', () => {
  it('is held by one holder at a time and free again once released', async () => {
    const dir = await tempDir();
    const first = acquireDataDirLock(dir);
    expect(isHeld(first)).toBe(true);
    const second = acquireDataDirLock(dir);
    expect(isHeld(second)).toBe(false);
    if (isHeld(first) && !isHeld(second)) {
      expect(second.holder.pid).toBe(process.pid);
      expect(second.holder.token).toBe(first.holder.token);
      first.publish('postgres://postgres@127.0.0.1:1/postgres');
      expect((acquireDataDirLock(dir) as { holder: DataDirHolder }).holder.url).toBe(
        'postgres://postgres@127.0.0.1:1/postgres',
      );
      first.release();
    }
    expect(existsSync(lockPathOf(dir))).toBe(false);
    const third = acquireDataDirLock(dir);
    expect(isHeld(third)).toBe(true);
    if (isHeld(third)) third.release();
    // No temp files are left beside the lock.
    expect(await readdir(dir)).toEqual([]);
  });

  // Every way a lock's holder can be gone: it is then taken over, never honoured.
  const stale: Array<[string, () => Partial<DataDirHolder> | string]> = [
    ['its process has exited', () => ({ pid: deadPid() })],
    ['its pid now belongs to another process (other start time)', () => ({ procStart: '1' })],
    ['it ran before a reboot', () => ({ bootId: 'another-boot' })],
    ['it names this very process, which does not hold it (a restarted container)', () => ({})],
    ['the file is damaged', () => '{"pid": 12'],
    ['the file is empty', () => ''],
  ];
  it.each(stale)('is taken over when %s', async (_label, make) => {
    const dir = await tempDir();
    const made = make();
    writeFileSync(
      lockPathOf(dir),
      typeof made === 'string' ? made : JSON.stringify({ ...ownRecord(), ...made }),
    );
    const lock = acquireDataDirLock(dir);
    expect(isHeld(lock)).toBe(true);
    if (isHeld(lock)) {
      expect(JSON.parse(readFileSync(lockPathOf(dir), 'utf8')).token).toBe(lock.holder.token);
      lock.release();
    }
  });

  it('is honoured while its holder runs, here or on a host whose pids cannot be checked', async () => {
    // A live process other than this one: a child that waits.
    const sleeper = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)']);
    try {
      const stat = readFileSync(`/proc/${sleeper.pid}/stat`, 'utf8');
      const live: Array<Partial<DataDirHolder>> = [
        { pid: sleeper.pid!, procStart: stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]! },
        { pid: sleeper.pid! },
        { pid: deadPid(), host: 'another-host' },
      ];
      for (const over of live) {
        const dir = await tempDir();
        const record = { ...ownRecord(), ...over };
        if (!('procStart' in over)) delete record.procStart;
        writeFileSync(lockPathOf(dir), JSON.stringify(record));
        const lock = acquireDataDirLock(dir);
        expect(isHeld(lock)).toBe(false);
        expect(JSON.parse(readFileSync(lockPathOf(dir), 'utf8')).token).toBe('other-holder');
      }
    } finally {
      sleeper.kill('SIGKILL');
    }
  });
});

describe.skipIf(Boolean(process.env.DATABASE_URL))('an embedded data folder open in this process', () => {
  it('refuses a second engine, lets a script attach to the first, and is free once closed', async () => {
    const dir = await tempDir();
    const opts = { url: undefined, poolMax: 1, prepare: true, dataDir: dir };
    const owner = await openDatabase(opts);
    try {
      await runMigrations(owner);
      const lock = JSON.parse(readFileSync(lockPathOf(dir), 'utf8'));
      expect(lock).toMatchObject({ pid: process.pid, url: owner.url });

      const refused = await openDatabase(opts).then(
        () => null,
        (err: unknown) => err,
      );
      expect(refused).toBeInstanceOf(DataDirInUseError);
      expect((refused as Error).message).toContain(`DATA_DIR ${dir} is in use by another process`);
      expect((refused as Error).message).toContain(`pid ${process.pid}`);

      // Attached: the same engine, so each side sees the other's writes at once.
      const script = await openDatabase({ ...opts, whenInUse: 'attach' });
      try {
        expect(script.attachedTo?.pid).toBe(process.pid);
        expect(script.embedded).toBeUndefined();
        await script.db.insert(contacts).values({ phone: '+14155550111', name: 'From the script' });
        const seen = await owner.db.select({ name: contacts.name }).from(contacts);
        expect(seen).toEqual([{ name: 'From the script' }]);

        // Both clients at once, statements of different shapes, parameters and results: every
        // answer is the one its own query asked for (they share one engine session).
        const asked = Array.from({ length: 240 }, (_, i) =>
          i % 3 === 0
            ? owner.sql<{ a: number }[]>`select ${i}::int as a`.then((r) => [i, r[0]!.a])
            : i % 3 === 1
              ? script.sql<{ a: number; b: string }[]>`select ${i}::int as a, ${`s${i}`}::text as b`.then(
                  (r) => [i, r[0]!.a, r[0]!.b],
                )
              : // Unprepared, each text new: described in one exchange and run in the next, as
                // pg-boss's statements are. Parameter counts differ from one to the next.
                (i % 2 ? owner : script).sql
                  .unsafe<{ s: number }[]>(
                    `select ${Array.from({ length: (i % 4) + 1 }, (_, k) => `$${k + 1}::int`).join(' + ')} as s /* ${i} */`,
                    Array.from({ length: (i % 4) + 1 }, () => i),
                  )
                  .then((r) => [i, r[0]!.s]),
        );
        const answers = await Promise.all(asked);
        answers.forEach((got, i) => {
          expect(got).toEqual(i % 3 === 0 ? [i, i] : i % 3 === 1 ? [i, i, `s${i}`] : [i, i * ((i % 4) + 1)]);
        });
      } finally {
        await script.close();
      }
      // Closing the attached client leaves the owner's engine and lock in place.
      expect(JSON.parse(readFileSync(lockPathOf(dir), 'utf8')).token).toBe(lock.token);
      await owner.sql`select 1`;
    } finally {
      await owner.close();
    }
    expect(existsSync(lockPathOf(dir))).toBe(false);
    const again = await openDatabase(opts);
    const rows = await again.db.select({ name: contacts.name }).from(contacts);
    await again.close();
    expect(rows).toEqual([{ name: 'From the script' }]);
  }, 60_000);
});
