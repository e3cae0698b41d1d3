import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { acquireDataDirLock, lockPathOf } from '../../server/db/data-dir-lock';
import { runScript } from '../helpers/script-process';
import { type ServerProcess, startServerProcess } from '../helpers/server-process';

/**
 * Key scripts against the embedded data folder of a running server, as separate processes: the scripts
 * act on the server's own engine, a second engine on the folder is never opened, and stale locks left
 * by a killed process are taken over. PGlite only: on Postgres there is no data folder.
 */
const cleanups: Array<() => Promise<unknown>> = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => {});
});

const keyScript = (dataDir: string, ...args: string[]) =>
  runScript('scripts/keys.ts', args, { DATA_DIR: dataDir });

async function createKey(dataDir: string, name: string) {
  const r = await keyScript(dataDir, 'create', '--name', name, '--role', 'admin');
  expect(r.stderr).toContain('Acting on the database of the server');
  expect(r.code).toBe(0);
  const key = /\b(wcb_[A-Za-z0-9_-]+)/.exec(r.stdout)?.[1];
  const id = /\(id ([0-9a-f-]{36})\)/.exec(r.stdout)?.[1];
  expect(key && id).toBeTruthy();
  return { key: key!, id: id! };
}

/** The status of an admin-only call made with this key. */
async function callWith(server: ServerProcess, key: string) {
  const res = await fetch(`${server.url}/trpc/keys.list`, { headers: { authorization: `Bearer ${key}` } });
  return { status: res.status, body: await res.text() };
}

/** Starts `server/main.ts` and waits for it to exit (one that is refused never serves). */
function runServerToExit(env: Record<string, string>) {
  const child = spawn(process.execPath, ['--import', 'tsx', 'server/main.ts'], {
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      PORT: String(20_000 + Math.floor(Math.random() * 30_000)),
      HOST: '127.0.0.1',
      LOG_LEVEL: 'warn',
      BOOTSTRAP_ADMIN_KEY: 'false',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  return new Promise<{ code: number | null; out: string }>((resolve) =>
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, out });
    }),
  );
}

const lockOf = (dataDir: string) => JSON.parse(readFileSync(lockPathOf(dataDir), 'utf8'));

describe.skipIf(Boolean(process.env.DATABASE_URL))("key scripts on a running server's data folder", () => {
  it('act on the server: a new key works at once, a revoked key stops, and both survive a restart', async () => {
    const dataDir = await mkdtemp(path.join(os.tmpdir(), 'wcb-locked-'));
    cleanups.push(() => rm(dataDir, { recursive: true, force: true }));
    let server = await startServerProcess({ DATA_DIR: dataDir });
    cleanups.push(() => server.stop());
    expect(lockOf(dataDir)).toMatchObject({ pid: server.child.pid, command: 'server/main.ts' });

    const kept = await createKey(dataDir, 'kept');
    expect((await callWith(server, kept.key)).status).toBe(200);

    // Revoked through the script before the server has seen it: refused on its first use.
    const unused = await createKey(dataDir, 'revoked unused');
    const revoked = await keyScript(dataDir, 'revoke', '--id', unused.id);
    expect(revoked.code).toBe(0);
    expect(revoked.stdout).toContain('Revoked key "revoked unused"');
    expect((await callWith(server, unused.key)).status).toBe(401);

    // Revoked while in use: refused once the server's short key cache lets go of it.
    const inUse = await createKey(dataDir, 'revoked in use');
    expect((await callWith(server, inUse.key)).status).toBe(200);
    expect((await keyScript(dataDir, 'revoke', '--id', inUse.id)).code).toBe(0);
    await expect
      .poll(async () => (await callWith(server, inUse.key)).status, { timeout: 20_000, interval: 500 })
      .toBe(401);

    // The server lists what the scripts did: one engine saw every change.
    const listed = await callWith(server, kept.key);
    for (const name of ['kept', 'revoked unused', 'revoked in use']) expect(listed.body).toContain(name);

    expect(await server.stop()).toBe(0);
    server = await startServerProcess({ DATA_DIR: dataDir });
    expect((await callWith(server, kept.key)).status).toBe(200);
    expect((await callWith(server, unused.key)).status).toBe(401);
    expect((await callWith(server, inUse.key)).status).toBe(401);

    // A second server on the same folder is refused at once and the first keeps serving.
    const second = await runServerToExit({ DATA_DIR: dataDir });
    expect(second.code).toBe(1);
    expect(second.out).toContain(`DATA_DIR ${dataDir} is in use by the server (pid ${server.child.pid})`);
    expect((await callWith(server, kept.key)).status).toBe(200);
    expect(lockOf(dataDir).pid).toBe(server.child.pid);

    // Killed, the server leaves its lock behind; the next server takes it over and has every key.
    await server.crash();
    expect(lockOf(dataDir).pid).not.toBe(undefined);
    server = await startServerProcess({ DATA_DIR: dataDir });
    expect(lockOf(dataDir).pid).toBe(server.child.pid);
    expect((await callWith(server, kept.key)).status).toBe(200);
    expect((await callWith(server, inUse.key)).status).toBe(401);
    expect(await server.stop()).toBe(0);

    // Stopped cleanly, the server releases the folder: a script then opens it itself.
    const list = await keyScript(dataDir, 'list');
    expect(list.code).toBe(0);
    expect(list.stderr).not.toContain('Acting on the database');
    expect(list.stdout).toMatch(/active\s+kept/);
  }, 240_000);

  it("refuse with the folder and the holder when the holder's database cannot be reached", async () => {
    const dataDir = await mkdtemp(path.join(os.tmpdir(), 'wcb-locked-'));
    cleanups.push(() => rm(dataDir, { recursive: true, force: true }));
    // This test process holds the folder and names a socket that nothing listens on.
    const lock = acquireDataDirLock(dataDir);
    if (!('release' in lock)) throw new Error('the fresh folder should be free');
    cleanups.push(async () => lock.release());
    lock.publish('postgres://postgres@127.0.0.1:9/postgres');

    for (const [script, args] of [
      ['scripts/keys.ts', ['create', '--name', 'x', '--role', 'admin']],
      ['scripts/migrate.ts', []],
    ] as const) {
      const r = await runScript(script, [...args], { DATA_DIR: dataDir });
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(`DATA_DIR ${dataDir} is in use by another process (pid ${process.pid}`);
      expect(r.stderr).toContain('could not be reached');
      expect(r.stdout).not.toContain('wcb_');
      expect(r.stderr).not.toMatch(/\n\s+at /); // a message, not a stack trace
    }
    // Nothing was opened beside the holder: the lock is still this process's.
    expect(lockOf(dataDir).token).toBe(lock.holder.token);
  }, 120_000);

  it('a lock left by a process that died is taken over by a script', async () => {
    const dataDir = await mkdtemp(path.join(os.tmpdir(), 'wcb-locked-'));
    cleanups.push(() => rm(dataDir, { recursive: true, force: true }));
    const dead = spawn(process.execPath, ['-e', '']);
    await new Promise((r) => dead.once('close', r));
    writeFileSync(
      lockPathOf(dataDir),
      JSON.stringify({
        pid: dead.pid,
        startedAt: new Date().toISOString(),
        host: os.hostname(),
        command: 'server/main.ts',
        token: 'dead-holder',
        url: 'postgres://postgres@127.0.0.1:9/postgres',
      }),
    );
    const r = await keyScript(dataDir, 'list');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('No keys.');
    expect(r.stderr).toBe('');
  }, 120_000);
});
