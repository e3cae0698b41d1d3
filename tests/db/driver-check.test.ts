import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  assertPostgresDriverSafe,
  DriverCheckError,
  hasWriteAfterClose,
  postgresPackageDir,
} from '../../server/db/driver-check';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** A stand-in postgres.js package folder holding the given connection.js. */
function fakeDriver(version: string, connectionJs: string): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'wcb-driver-'));
  dirs.push(dir);
  writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: 'postgres', version }));
  mkdirSync(path.join(dir, 'src'));
  writeFileSync(path.join(dir, 'src', 'connection.js'), connectionJs);
  return dir;
}

const installed = readFileSync(path.join(postgresPackageDir(), 'src', 'connection.js'), 'utf8');

describe('postgres.js write-after-close check', () => {
  it('passes the installed driver (the patch from patches/ is applied)', () => {
    expect(hasWriteAfterClose(installed)).toBe(false);
    expect(() => assertPostgresDriverSafe()).not.toThrow();
  });

  it('refuses the released 3.4.9 source with a message that says what to do', () => {
    // The installed file with the patch's guard taken out is the file as published.
    const guard = /\n {4}if \(!socket\) \{ \/\* wcb: write after close \*\/\n(?: {6}.*\n){3} {4}\}/;
    expect(installed).toMatch(guard);
    const published = installed.replace(guard, '');
    expect(published).toContain('function nextWrite(fn) {\n    const x = socket.write(chunk, fn)');

    const dir = fakeDriver('3.4.9', published);
    let thrown: unknown;
    try {
      assertPostgresDriverSafe(dir);
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(DriverCheckError);
    const message = (thrown as Error).message;
    expect(message).toContain('postgres 3.4.9');
    expect(message).toContain(path.join(dir, 'src', 'connection.js'));
    expect(message).toContain('npm ci');
  });

  it('accepts a driver whose writes check the connection first (the 4.x shape)', () => {
    const guarded = [
      'function Connection() {',
      '  function flush() {',
      '    if (closed) return (out.take(), true)',
      '    return out.length ? socket.write(out.take()) : true',
      '  }',
      '}',
    ].join('\n');
    expect(hasWriteAfterClose(guarded)).toBe(false);
    expect(() => assertPostgresDriverSafe(fakeDriver('4.2.0', guarded))).not.toThrow();
  });
});
