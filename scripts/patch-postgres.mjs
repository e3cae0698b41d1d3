// Runs after `npm install` / `npm ci` (the "postinstall" script): fixes a crash in postgres.js 3.4.9.
//
// postgres.js batches small writes behind a setImmediate. When a connection closes (its backend was
// terminated, Postgres restarted, a pooler dropped it) the driver sets its socket to null but leaves
// the pending-write timer armed, or arms it again when a transaction sends its ROLLBACK on the dead
// connection. The timer then calls `socket.write` on null: an uncaught TypeError that ends the whole
// process. When the process survives it, the connection is poisoned anyway: the stale timer means
// its next start-up message is never flushed, so that pool slot times out forever.
// Upstream: https://github.com/porsager/postgres/issues/1154 and #1208 (no fixed release yet).
//
// The fix: a write on a closed connection rejects its queries with CONNECTION_CLOSED (as a close
// does) instead of throwing, and closing a connection drops its pending write and timer, so the
// reconnect starts clean. Only version 3.4.9 is patched; another version is left alone with a notice.
// tests/reliability/database-outage.test.ts kills the server's connections and restarts Postgres.

import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

const MARK = '/* wcb: write after close */';
const root = path.resolve(import.meta.dirname, '..', 'node_modules', 'postgres');
if (!existsSync(path.join(root, 'package.json'))) process.exit(0); // not installed: nothing to patch
const { version } = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8'));
if (version !== '3.4.9') {
  console.warn(`patch-postgres: postgres ${version} is not 3.4.9; left unpatched (check upstream #1208)`);
  process.exit(0);
}

const NEXT_WRITE = '  function nextWrite(fn) {\n    const x = socket.write(chunk, fn)\n';
const NEXT_WRITE_FIXED =
  '  function nextWrite(fn) {\n' +
  `    if (!socket) { ${MARK}\n` +
  '      chunk = nextWriteTimer = null\n' +
  "      error(Errors.connection('CONNECTION_CLOSED', options))\n" +
  '      return false\n' +
  '    }\n' +
  '    const x = socket.write(chunk, fn)\n';
const TEARDOWN = '    clearImmediate(nextWriteTimer)\n';
const TEARDOWN_FIXED = '    clearImmediate(nextWriteTimer)\n    chunk = nextWriteTimer = null\n';

for (const dir of ['src', 'cjs/src', 'cf/src']) {
  const file = path.join(root, dir, 'connection.js');
  let text;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    continue;
  }
  if (text.includes(MARK)) continue;
  if (text.split(NEXT_WRITE).length !== 2 || text.split(TEARDOWN).length !== 3) {
    console.warn(`patch-postgres: ${file} does not look as expected; left unpatched`);
    continue;
  }
  text = text.replace(NEXT_WRITE, NEXT_WRITE_FIXED).replaceAll(TEARDOWN, TEARDOWN_FIXED);
  writeFileSync(file, text);
}
