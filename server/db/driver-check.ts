import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

/**
 * postgres.js 3.x batches small writes behind a timer that calls `socket.write` after a connection may
 * have closed and set its socket to null: an uncaught TypeError that ends the whole process when
 * Postgres restarts or a pooler drops a connection (upstream porsager/postgres #1154, #1208). The 4.x
 * rewrite guards every write with the connection's closed state. This check reads the installed
 * driver's source and refuses to start on the unguarded write, so an install that lost a fix (an old
 * version, a skipped patch) fails loudly at start-up instead of crashing on the first outage.
 */
export class DriverCheckError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DriverCheckError';
  }
}

/** 3.x's nextWrite whose first statement writes to the socket without checking it is still open. */
const UNGUARDED_NEXT_WRITE =
  /function nextWrite\s*\([^)]*\)\s*\{\s*(?:const|let|var)\s+\w+\s*=\s*socket\.write\(/;

/** True when a connection.js source holds the write-after-close crash. */
export function hasWriteAfterClose(source: string): boolean {
  return UNGUARDED_NEXT_WRITE.test(source);
}

/** The folder of the postgres.js package this process loads. */
export function postgresPackageDir(): string {
  // The package's exports hide package.json: resolve its entry and walk up to the package root.
  // (3.x also has a cjs/package.json, so look for the one that names the package.)
  const entry = createRequire(import.meta.url).resolve('postgres');
  for (let dir = path.dirname(entry); path.dirname(dir) !== dir; dir = path.dirname(dir)) {
    if (readPackage(dir)?.name === 'postgres') return dir;
  }
  throw new DriverCheckError(`Cannot find the postgres.js package folder above ${entry}`);
}

function readPackage(dir: string): { name?: string; version?: string } | null {
  try {
    return JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8'));
  } catch {
    return null;
  }
}

/** Throws DriverCheckError if any connection.js of the postgres.js package in `dir` is the unsafe one. */
export function assertPostgresDriverSafe(dir: string = postgresPackageDir()): void {
  const version = readPackage(dir)?.version ?? 'unknown';
  // 3.x ships the same file three times (ESM, CommonJS, Cloudflare); 4.x has src/ only.
  for (const sub of ['src', 'cjs/src', 'cf/src']) {
    const file = path.join(dir, sub, 'connection.js');
    if (!existsSync(file)) continue;
    if (hasWriteAfterClose(readFileSync(file, 'utf8'))) {
      throw new DriverCheckError(
        `The installed Postgres driver (postgres ${version}, ${file}) writes to closed connections: ` +
          'a database restart or a dropped pooler connection would crash the process. Reinstall with ' +
          '`npm ci` (its postinstall applies patches/postgres+3.4.9.patch; --ignore-scripts skips it, ' +
          'so run `npx patch-package` after such an install) and start again.',
      );
    }
  }
}

let checked = false;

/** Runs the check once per process. */
export function ensurePostgresDriverSafe(): void {
  if (checked) return;
  assertPostgresDriverSafe();
  checked = true;
}
