import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestRuntime, type TestRuntime } from '../helpers/runtime';
import { runScript } from '../helpers/script-process';

/** `npm run staff:token`: a development token on the production sign-in path, never in production. */

const SECRET = 'staff-token-secret-at-least-32-characters';
const SCRIPT = 'scripts/staff-token.ts';
let dataDir: string;
let t: TestRuntime;

beforeAll(async () => {
  dataDir = await mkdtemp(path.join(tmpdir(), 'wcb-staff-token-'));
  t = await createTestRuntime({ SUPABASE_JWT_SECRET: SECRET });
});
afterAll(async () => {
  await t?.close();
  await rm(dataDir, { recursive: true, force: true });
});

describe('staff:token', () => {
  it('is refused when NODE_ENV=production, and without a secret, with exit code 2', async () => {
    const prod = await runScript(SCRIPT, ['--email', 'a@team.example'], {
      NODE_ENV: 'production',
      SUPABASE_JWT_SECRET: SECRET,
      DATA_DIR: dataDir,
    });
    expect(prod.code).toBe(2);
    expect(prod.stderr).toContain('refused when NODE_ENV=production');
    expect(prod.stdout).toBe('');

    const noSecret = await runScript(SCRIPT, ['--email', 'a@team.example'], { DATA_DIR: dataDir });
    expect(noSecret.code).toBe(2);
    expect(noSecret.stderr).toContain('SUPABASE_JWT_SECRET is not set');
  }, 120_000);

  it('prints a token the server accepts for an invited person (linked on first use, then again)', async () => {
    const email = 'dev@team.example';
    const { id } = await t.caller('admin').staff.invite({ email, displayName: 'Dev', role: 'agent' });
    const run = () =>
      runScript(SCRIPT, ['--email', 'DEV@team.example', '--ttl', '120'], {
        SUPABASE_JWT_SECRET: SECRET,
        DATA_DIR: dataDir,
      });
    const first = await run();
    expect(first.code, first.stderr).toBe(0);
    const caller = await t.runtime.services.auth.authenticate(first.stdout.trim());
    expect(caller).toMatchObject({ kind: 'staff', id, role: 'agent', email });
    // A later token for the same email names the same Supabase user.
    const second = await run();
    expect(await t.runtime.services.auth.authenticate(second.stdout.trim())).toMatchObject({ id });
  }, 120_000);

  it('--create-admin creates the first admin only', async () => {
    const env = { SUPABASE_JWT_SECRET: SECRET, DATA_DIR: dataDir };
    const first = await runScript(SCRIPT, ['--email', 'boss@team.example', '--create-admin'], env);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stderr).toContain('first admin');
    const second = await runScript(SCRIPT, ['--email', 'other@team.example', '--create-admin'], env);
    expect(second.code).toBe(2);
    expect(second.stderr).toContain('has an admin already');
  }, 120_000);
});
