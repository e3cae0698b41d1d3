import { randomBytes } from 'node:crypto';
import { linkSync, readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { once } from '../once';

/**
 * One process at a time may run the embedded engine of a data folder: two PGlite engines on one folder
 * silently lose each other's writes. The process that opens `<DATA_DIR>/pglite` holds
 * `<DATA_DIR>/pglite.lock`, a small JSON file created atomically (a hard link that fails when the name
 * exists). It names the holder (pid, process start, boot, host) and, once the engine is up, the loopback
 * socket other processes can reach the same engine through. A lock whose process is gone (dead pid, a
 * pid reused by another process, a reboot) is stale and is taken over.
 */
export interface DataDirHolder {
  pid: number;
  /** When the holder took the lock (ISO time). */
  startedAt: string;
  /** The holder's host name: a pid only means something on the same host. */
  host: string;
  /** The holder's script or entry point, relative to its working folder. */
  command: string;
  /** Linux: the holder's start time in clock ticks since boot (/proc/PID/stat), to tell a reused pid. */
  procStart?: string;
  /** Linux: the boot the holder ran in. */
  bootId?: string;
  /** The holder's loopback Postgres socket, set once its engine is up. */
  url?: string;
  /** Tells this holding apart from any other by the same pid. */
  token: string;
}

export class DataDirInUseError extends Error {
  override name = 'DataDirInUseError';
  constructor(
    readonly dataDir: string,
    readonly holder: DataDirHolder,
    message: string,
  ) {
    super(message);
  }
}

export interface HeldDataDirLock {
  readonly path: string;
  readonly holder: DataDirHolder;
  /** Records the loopback socket URL of this process's engine in the lock. */
  publish(url: string): void;
  /** Removes the lock if it is still this process's. */
  release(): void;
}

/** Locks held by this process, released when it exits however it exits (short of being killed). */
const held = new Map<string, string>();

const installExitHook = once(() => {
  process.once('exit', () => {
    for (const [file, token] of held) removeIfOurs(file, token);
  });
});

export const lockPathOf = (dataDir: string) => path.join(dataDir, 'pglite.lock');

/** Who the holder is, for messages: "the server (pid 1234)" or "another process (pid 1234, scripts/x.ts)". */
export function describeHolder(h: DataDirHolder): string {
  const where = h.host === os.hostname() ? '' : ` on ${h.host}`;
  return /(^|[/\\])main\.[cm]?[jt]s$/.test(h.command)
    ? `the server (pid ${h.pid}${where})`
    : `another process (pid ${h.pid}${where}, ${h.command || 'unknown command'})`;
}

/**
 * Takes the lock of `dataDir`, or returns the live holder when another process has it. Stale locks are
 * removed and the lock taken.
 */
export function acquireDataDirLock(dataDir: string): HeldDataDirLock | { holder: DataDirHolder } {
  const file = lockPathOf(dataDir);
  const me = selfRecord();
  for (let attempt = 0; attempt < 50; attempt++) {
    if (createExclusive(file, me)) return heldLock(file, me);
    const current = readHolder(file);
    if (current === 'missing') continue;
    if (current === 'unreadable') {
      // Lock files are written whole (write, then link or rename), so this is not one being written:
      // a damaged file from a crash or a disk fault. It protects nothing; set it aside.
      setAside(file);
      continue;
    }
    if (isLive(current)) return { holder: current };
    takeOverStale(file, current, me);
  }
  throw new Error(`Could not take the lock ${file}: it keeps changing hands`);
}

/** Reads the lock's holder now (to wait for its socket URL), or null when there is no lock. */
export function readLiveHolder(dataDir: string): DataDirHolder | null {
  const current = readHolder(lockPathOf(dataDir));
  if (current === 'missing' || current === 'unreadable') return null;
  return isLive(current) ? current : null;
}

function heldLock(file: string, me: DataDirHolder): HeldDataDirLock {
  held.set(file, me.token);
  installExitHook();
  let record = me;
  return {
    path: file,
    get holder() {
      return record;
    },
    publish(url) {
      record = { ...record, url };
      writeWhole(file, record);
    },
    release() {
      if (held.get(file) !== me.token) return;
      held.delete(file);
      removeIfOurs(file, me.token);
    },
  };
}

function selfRecord(): DataDirHolder {
  const script = process.argv[1] ?? '';
  const rel = script ? path.relative(process.cwd(), script) : '';
  const start = procStartOf(process.pid);
  const boot = bootId();
  return {
    pid: process.pid,
    startedAt: new Date().toISOString(),
    host: os.hostname(),
    command: rel && !rel.startsWith('..') ? rel : script,
    ...(start ? { procStart: start } : {}),
    ...(boot ? { bootId: boot } : {}),
    token: randomBytes(8).toString('hex'),
  };
}

/** Creates `file` holding `record` only if no such file exists; the file is never seen half written. */
function createExclusive(file: string, record: DataDirHolder): boolean {
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}`;
  writeFileSync(tmp, JSON.stringify(record), { mode: 0o600 });
  try {
    linkSync(tmp, file);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  } finally {
    unlinkSync(tmp);
  }
}

/** Replaces the content of a lock this process holds, atomically. */
function writeWhole(file: string, record: DataDirHolder) {
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}`;
  writeFileSync(tmp, JSON.stringify(record), { mode: 0o600 });
  renameSync(tmp, file);
}

function readHolder(file: string): DataDirHolder | 'missing' | 'unreadable' {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 'missing';
    throw err;
  }
  try {
    const v = JSON.parse(text) as Partial<DataDirHolder>;
    if (typeof v.pid !== 'number' || !Number.isInteger(v.pid) || v.pid <= 0) return 'unreadable';
    if (typeof v.token !== 'string' || typeof v.host !== 'string') return 'unreadable';
    return {
      pid: v.pid,
      startedAt: String(v.startedAt ?? ''),
      host: v.host,
      command: String(v.command ?? ''),
      token: v.token,
      ...(typeof v.procStart === 'string' ? { procStart: v.procStart } : {}),
      ...(typeof v.bootId === 'string' ? { bootId: v.bootId } : {}),
      ...(typeof v.url === 'string' ? { url: v.url } : {}),
    };
  } catch {
    return 'unreadable';
  }
}

/** Whether the lock's holder still runs. A holder on another host cannot be checked: it counts as live. */
function isLive(h: DataDirHolder): boolean {
  if (h.host !== os.hostname()) return true;
  // This process's own pid: live only if this process holds it now (a container restarts as the same pid).
  if (h.pid === process.pid) return [...held.values()].includes(h.token);
  try {
    process.kill(h.pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ESRCH') return false;
  }
  const boot = bootId();
  if (h.bootId && boot && h.bootId !== boot) return false;
  const start = procStartOf(h.pid);
  if (h.procStart && start && h.procStart !== start) return false;
  return true;
}

/**
 * Removes a stale lock. A short-lived guard file makes sure two processes taking over the same stale
 * lock at once cannot remove the fresh lock one of them has just created.
 */
function takeOverStale(file: string, stale: DataDirHolder, me: DataDirHolder) {
  const guard = `${file}.takeover`;
  if (!createExclusive(guard, me)) {
    const other = readHolder(guard);
    if (other === 'unreadable' || (other !== 'missing' && !isLive(other))) setAside(guard);
    else pause(20);
    return;
  }
  try {
    const again = readHolder(file);
    if (again !== 'missing' && again !== 'unreadable' && again.token === stale.token) unlinkSync(file);
  } finally {
    removeIfOurs(guard, me.token);
  }
}

function setAside(file: string) {
  try {
    renameSync(file, `${file}.damaged-${Date.now()}`);
  } catch {
    // Gone already: nothing to set aside.
  }
}

function removeIfOurs(file: string, token: string) {
  try {
    const current = readHolder(file);
    if (current !== 'missing' && current !== 'unreadable' && current.token === token) unlinkSync(file);
  } catch {
    // The folder may be gone (a test's temp folder); nothing is left to release.
  }
}

/** Blocks this thread briefly: the lock is taken once per process start, before anything else runs. */
function pause(ms: number) {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

function procStartOf(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name, which is in parentheses and may itself hold spaces or parentheses.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return fields[19];
  } catch {
    return undefined;
  }
}

const bootId = once((): string | undefined => {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim() || undefined;
  } catch {
    return undefined;
  }
});
