import { mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseCommandLine, wholeNumber } from '../../scripts/lib/command-line';
import { runScript } from '../helpers/script-process';

/**
 * The scripts' command lines (util.parseArgs in strict mode): the documented forms parse, and an
 * unknown option, a missing value or a bad value ends the script with the error, the usage and exit
 * code 2, before any database is opened.
 */
const options = {
  name: { type: 'string' },
  rate: { type: 'string' },
  'dry-run': { type: 'boolean' },
} as const;

describe('parseCommandLine', () => {
  it('reads `--name value`, `--name=value` and bare flags; the last repeat wins', () => {
    const line = parseCommandLine(['--name', 'Spring offer', '--rate=30', '--dry-run', '--name', 'B'], {
      options,
    });
    expect(line).toEqual({
      ok: true,
      help: false,
      values: { name: 'B', rate: '30', 'dry-run': true },
      positionals: [],
    });
  });

  it('keeps positionals only where the script takes them', () => {
    expect(parseCommandLine(['create', '--name', 'x'], { options, allowPositionals: true })).toMatchObject({
      ok: true,
      positionals: ['create'],
    });
    const refused = parseCommandLine(['create'], { options });
    expect(refused.ok).toBe(false);
    expect(!refused.ok && refused.error).toContain("Unexpected argument 'create'");
  });

  it('refuses an unknown option, a missing value, a value given to a flag and an ambiguous value', () => {
    const error = (argv: string[]) => {
      const line = parseCommandLine(argv, { options });
      return line.ok ? null : line.error;
    };
    expect(error(['--nmae', 'x'])).toContain("Unknown option '--nmae'");
    expect(error(['--name'])).toContain("Option '--name <value>' argument missing");
    expect(error(['--dry-run=yes'])).toContain("Option '--dry-run' does not take an argument");
    expect(error(['--name', '--rate'])).toContain('ambiguous');
  });

  it('understands --help and -h', () => {
    expect(parseCommandLine(['--help'], { options })).toMatchObject({ ok: true, help: true });
    expect(parseCommandLine(['-h'], { options })).toMatchObject({ ok: true, help: true });
  });
});

describe('wholeNumber', () => {
  it('accepts whole numbers at or above the minimum and names the option otherwise', () => {
    expect(wholeNumber('rate', '30')).toEqual({ ok: true, value: 30 });
    expect(wholeNumber('rate', undefined)).toEqual({ ok: true, value: undefined });
    for (const bad of ['fast', '', '1.5', '-3', '9007199254740993']) {
      expect(wholeNumber('rate', bad)).toEqual({
        ok: false,
        error: `--rate must be a whole number of at least 0 (got "${bad}")`,
      });
    }
    expect(wholeNumber('rounds', '2', { min: 5 })).toMatchObject({ ok: false });
  });
});

// Each case starts a script under tsx, which loads the server's modules: slow on a busy machine.
describe('scripts run with a bad command line', { timeout: 120_000 }, () => {
  const dirs: string[] = [];
  afterAll(async () => {
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });
  // An empty data folder: a script that wrongly went on to open the database would leave files in it.
  const env = async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'wcb-cli-'));
    dirs.push(dir);
    return { DATA_DIR: dir };
  };

  it('an unknown flag: the error and the usage on stderr, exit code 2, no stack trace', async () => {
    const r = await runScript('scripts/keys.ts', ['create', '--nmae', 'x', '--role', 'admin'], await env());
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("Unknown option '--nmae'");
    expect(r.stderr).toContain('Usage:\n  npm run key:create -- --name NAME --role admin|agent');
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(r.stdout).toBe('');
  });

  it('a bad value: the option named with the value, the usage, exit code 2', async () => {
    const e = await env();
    const role = await runScript('scripts/keys.ts', ['create', '--name', 'x', '--role', 'boss'], e);
    expect(role.code).toBe(2);
    expect(role.stderr).toContain('--role must be admin or agent (got "boss").');
    expect(role.stderr).toContain('Usage:');

    const rate = await runScript(
      'scripts/campaign.ts',
      ['--name', 'Spring', '--message', 'Hi', '--tag', 'vip', '--rate', 'fast'],
      e,
    );
    expect(rate.code).toBe(2);
    expect(rate.stderr).toContain('--rate must be a whole number of at least 0 (got "fast")');
    expect(rate.stderr).toContain('Usage: npm run campaign -- --name NAME');
    expect(rate.stderr).not.toMatch(/\n\s+at /);
    expect(await readdir(e.DATA_DIR)).toEqual([]);
  });

  it('--help prints the usage on stdout and exits 0', async () => {
    const r = await runScript('scripts/simulate.ts', ['--help'], await env());
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('Usage: npm run simulate -- --secret SECRET');
    expect(r.stderr).toBe('');
  });
});
