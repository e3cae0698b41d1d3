import { TRPCError } from '@trpc/server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiKeys } from '../../drizzle';
import { createRequestContext } from '../../server/trpc/context';
import type { Meta } from '../../server/trpc/init';
import { appRouter, createCaller } from '../../server/trpc/router';
import { signWithSecret } from '../auth/support';
import { silentLogger } from '../helpers/log';
import { createTestRuntime, type TestRuntime } from '../helpers/runtime';

const SECRET = 'auth-matrix-secret-at-least-32-characters-long';

let t: TestRuntime;
/** Real credentials, resolved through the request path: keys, and staff sign-in tokens (HS256). */
const tokens: Record<'agentKey' | 'adminKey' | 'agentStaff' | 'adminStaff' | 'deactivatedStaff', string> = {
  agentKey: '',
  adminKey: '',
  agentStaff: '',
  adminStaff: '',
  deactivatedStaff: '',
};

async function staffToken(role: 'admin' | 'agent', name: string): Promise<{ id: string; token: string }> {
  const email = `${name}@matrix.example`;
  const { id } = await t.caller('admin').staff.invite({ email, displayName: name, role });
  const token = await signWithSecret(SECRET, 'http://127.0.0.1:54321/auth/v1', { email, verified: true });
  return { id, token };
}

beforeAll(async () => {
  t = await createTestRuntime({ SUPABASE_JWT_SECRET: SECRET });
  tokens.agentKey = await t.key('agent');
  tokens.adminKey = await t.key('admin');
  tokens.agentStaff = (await staffToken('agent', 'agent')).token;
  tokens.adminStaff = (await staffToken('admin', 'admin')).token;
  const gone = await staffToken('agent', 'gone');
  tokens.deactivatedStaff = gone.token;
  // Linked by a first call, then deactivated.
  await t.runtime.services.auth.authenticate(gone.token);
  await t.caller('admin').staff.deactivate({ id: gone.id });
});
afterAll(() => t?.close());

/** The router as the bearer of `token`, through the same context as an HTTP request. */
const asBearer = (token: string) =>
  createCaller(
    createRequestContext({
      services: t.runtime.services,
      log: silentLogger,
      authorization: `Bearer ${token}`,
    }),
  );

/** Every procedure of the router with its declared auth rule. */
function procedures() {
  const procs = appRouter._def.procedures as unknown as Record<
    string,
    { _def: { meta?: Meta; type: string } }
  >;
  return Object.entries(procs).map(([path, proc]) => ({
    path,
    auth: (proc._def.meta ?? { auth: 'public' }).auth,
    type: proc._def.type,
  }));
}

async function call(caller: ReturnType<TestRuntime['caller']>, path: string): Promise<unknown> {
  let target: unknown = caller;
  for (const part of path.split('.')) target = (target as Record<string, unknown>)[part];
  // The input is deliberately empty: the auth check runs before input validation.
  return (target as (input: unknown) => Promise<unknown>)(undefined);
}

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'OK';
  } catch (err) {
    return err instanceof TRPCError ? err.code : `non-trpc: ${String(err)}`;
  }
}

describe('auth rules of every procedure', () => {
  const all = procedures();

  it('the router has the six product routers, and only a known few public procedures', () => {
    const roots = new Set(all.map((p) => p.path.split('.')[0]));
    for (const r of ['conversations', 'crm', 'leads', 'bot', 'campaigns', 'stats'])
      expect(roots).toContain(r);
    expect(all.filter((p) => p.auth === 'public').map((p) => p.path)).toEqual([]);
  });

  it.each(all)('$path ($auth) rejects a caller with no key with UNAUTHORIZED', async ({ path, auth }) => {
    const code = await codeOf(call(t.caller(null), path));
    if (auth === 'public') expect(code).not.toBe('UNAUTHORIZED');
    else expect(code).toBe('UNAUTHORIZED');
  });

  it.each(all.filter((p) => p.auth === 'admin'))(
    '$path rejects an agent with FORBIDDEN',
    async ({ path }) => {
      expect(await codeOf(call(t.caller('agent'), path))).toBe('FORBIDDEN');
    },
  );

  it.each(all.filter((p) => p.auth === 'agent'))(
    '$path lets an agent past the auth check',
    async ({ path }) => {
      const code = await codeOf(call(t.caller('agent'), path));
      expect(['OK', 'BAD_REQUEST', 'NOT_FOUND']).toContain(code);
    },
  );
});

describe('auth rules of every procedure, with real keys and staff sign-ins', () => {
  const all = procedures().filter((p) => p.auth !== 'public');
  const passed = ['OK', 'BAD_REQUEST', 'NOT_FOUND', 'CONFLICT', 'PRECONDITION_FAILED'];

  it.each(all.filter((p) => p.auth === 'admin'))(
    '$path: agent key and agent sign-in FORBIDDEN, admin key and admin sign-in pass',
    async ({ path }) => {
      expect(await codeOf(call(asBearer(tokens.agentKey), path))).toBe('FORBIDDEN');
      expect(await codeOf(call(asBearer(tokens.agentStaff), path))).toBe('FORBIDDEN');
      expect(passed).toContain(await codeOf(call(asBearer(tokens.adminKey), path)));
      expect(passed).toContain(await codeOf(call(asBearer(tokens.adminStaff), path)));
    },
  );

  it.each(all.filter((p) => p.auth === 'agent'))(
    '$path: agent key and agent sign-in pass the auth check',
    async ({ path }) => {
      expect(passed).toContain(await codeOf(call(asBearer(tokens.agentKey), path)));
      expect(passed).toContain(await codeOf(call(asBearer(tokens.agentStaff), path)));
    },
  );

  it.each(all)('$path: a deactivated person is FORBIDDEN', async ({ path }) => {
    expect(await codeOf(call(asBearer(tokens.deactivatedStaff), path))).toBe('FORBIDDEN');
  });

  it('staff management, keys and settings are admin-only (except a person’s own availability)', () => {
    const admin = new Set(all.filter((p) => p.auth === 'admin').map((p) => p.path));
    for (const path of [
      'staff.invite',
      'staff.deactivate',
      'keys.create',
      'keys.list',
      'keys.revoke',
      'bot.settings',
      'bot.updateSettings',
    ])
      expect(admin).toContain(path);
  });
});

describe('api keys', () => {
  it('are stored hashed, shown once, listed without the key, and stop working when revoked', async () => {
    const admin = t.caller('admin');
    const created = await admin.keys.create({ name: 'dashboard', role: 'agent' });
    expect(created.key).toMatch(/^wcb_/);
    expect(created.key.startsWith(created.prefix)).toBe(true);

    const stored = await t.runtime.database.db.select().from(apiKeys);
    expect(JSON.stringify(stored)).not.toContain(created.key);

    const listed = await admin.keys.list();
    expect(listed.find((k) => k.id === created.id)).toMatchObject({ name: 'dashboard', role: 'agent' });
    expect(JSON.stringify(listed)).not.toContain(created.key);

    const app = await t.app();
    const ask = (key: string) =>
      app.inject({ url: '/trpc/stats.systemStatus', headers: { authorization: `Bearer ${key}` } });
    expect((await ask(created.key)).statusCode).toBe(200);
    await admin.keys.revoke({ id: created.id });
    expect((await ask(created.key)).statusCode).toBe(401);
  });

  it('revoking an unknown key is NOT_FOUND; a bad role is BAD_REQUEST and creates nothing', async () => {
    const admin = t.caller('admin');
    await expect(admin.keys.revoke({ id: '00000000-0000-4000-8000-000000000000' })).rejects.toMatchObject({
      code: 'NOT_FOUND',
    });
    const before = (await admin.keys.list()).length;
    await expect(admin.keys.create({ name: 'x', role: 'owner' as 'admin' })).rejects.toMatchObject({
      code: 'BAD_REQUEST',
    });
    expect((await admin.keys.list()).length).toBe(before);
  });

  it('over HTTP: no key and a wrong key get 401, an agent on an admin procedure gets 403', async () => {
    const app = await t.app();
    const agentKey = await t.key('agent');
    const none = await app.inject({ url: '/trpc/stats.systemStatus' });
    expect(none.statusCode).toBe(401);
    const wrong = await app.inject({
      url: '/trpc/stats.systemStatus',
      headers: { authorization: 'Bearer wcb_not-a-real-key' },
    });
    expect(wrong.statusCode).toBe(401);
    expect(wrong.json().error.json.message).toBe('A valid API key is required');
    const forbidden = await app.inject({
      url: '/trpc/keys.list',
      headers: { authorization: `Bearer ${agentKey}` },
    });
    expect(forbidden.statusCode).toBe(403);
  });
});
