import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../server/log';
import { createTestRuntime, type TestRuntime } from '../helpers/runtime';
import {
  type JwksServer,
  newSigningKey,
  type SigningKey,
  signWithKey,
  signWithSecret,
  startJwksServer,
  unsignedToken,
} from './support';

/**
 * Supabase sign-in tokens against a server configured with a project URL only (JWKS: ES256 and RS256
 * keys served on 127.0.0.1, rotated while it runs) and against one with the legacy secret only.
 */

let jwks: JwksServer;
let es: SigningKey;
let rs: SigningKey;
let t: TestRuntime;
let app: FastifyInstance;

const me = (token: string) =>
  app.inject({ url: '/trpc/staff.me', headers: { authorization: `Bearer ${token}` } });
const messageOf = (res: { json(): { error: { json: { message: string } } } }) =>
  res.json().error.json.message;

/** Invites a person and returns a (verified) token for them; the first call links them. */
async function person(role: 'admin' | 'agent', key: SigningKey = es) {
  const email = `${randomUUID().slice(0, 8)}@team.example`;
  const created = await t.caller('admin').staff.invite({ email, displayName: `P ${role}`, role });
  const sub = randomUUID();
  const token = await signWithKey(key, jwks.url, { sub, email, verified: true });
  return { id: created.id, email, sub, token };
}

beforeAll(async () => {
  es = await newSigningKey('ES256');
  rs = await newSigningKey('RS256');
  jwks = await startJwksServer([es, rs]);
  t = await createTestRuntime({ SUPABASE_URL: jwks.url, SUPABASE_JWKS_COOLDOWN_SECONDS: '0' });
  app = await t.app();
});
afterAll(async () => {
  await t?.close();
  await jwks?.close();
});

describe('a project with signing keys (JWKS)', () => {
  it('accepts ES256 and RS256 tokens of an invited person, linking them on the first call', async () => {
    const p = await person('agent');
    const first = await me(p.token);
    expect(first.statusCode).toBe(200);
    const body = first.json().result.data.json;
    expect(body).toMatchObject({ kind: 'staff', staff: { id: p.id, email: p.email, linked: true } });

    const rsa = await signWithKey(rs, jwks.url, { sub: p.sub });
    expect((await me(rsa)).statusCode).toBe(200);
  });

  it('fetches the JWKS again when a token names a key published after start', async () => {
    const p = await person('agent');
    expect((await me(p.token)).statusCode).toBe(200);
    const before = jwks.fetches();
    const rotated = await newSigningKey('ES256');
    jwks.keys.push(rotated);
    const token = await signWithKey(rotated, jwks.url, { sub: p.sub });
    expect((await me(token)).statusCode).toBe(200);
    expect(jwks.fetches()).toBeGreaterThan(before);
  });

  it('refuses bad signatures, expiry, early tokens, other issuers and audiences', async () => {
    const p = await person('agent');
    expect((await me(p.token)).statusCode).toBe(200);
    const impostor = await newSigningKey('ES256', es.kid);
    const cases: Array<[string, string, string]> = [
      [await signWithKey(impostor, jwks.url, { sub: p.sub }), 'not valid', 'bad signature'],
      [await signWithKey(es, jwks.url, { sub: p.sub, expIn: -120 }), 'expired', 'expired'],
      [await signWithKey(es, jwks.url, { sub: p.sub, nbfIn: 300 }), 'not valid', 'nbf in the future'],
      [
        await signWithKey(es, jwks.url, { sub: p.sub, iss: 'https://other.supabase.co/auth/v1' }),
        'not valid',
        'issuer',
      ],
      [await signWithKey(es, jwks.url, { sub: p.sub, aud: 'anon' }), 'not valid', 'audience'],
      [unsignedToken(`${jwks.url}/auth/v1`, { sub: p.sub }), 'not accepted', 'alg none'],
      [
        await signWithSecret('a-secret-the-server-does-not-have-0123456789', `${jwks.url}/auth/v1`, {
          sub: p.sub,
        }),
        'not accepted',
        'HS256 without a secret',
      ],
    ];
    for (const [token, message, label] of cases) {
      const res = await me(token);
      expect(res.statusCode, label).toBe(401);
      expect(messageOf(res), label).toContain(message);
    }
    // Within the clock skew an expired token still passes.
    expect((await me(await signWithKey(es, jwks.url, { sub: p.sub, expIn: -10 }))).statusCode).toBe(200);
  });

  it('refuses an unknown person (401) and a deactivated one at once (403)', async () => {
    const stranger = await signWithKey(es, jwks.url, { email: 'nobody@team.example', verified: true });
    const unknown = await me(stranger);
    expect(unknown.statusCode).toBe(401);
    expect(messageOf(unknown)).toBe('No staff account for this sign-in');

    const p = await person('agent');
    expect((await me(p.token)).statusCode).toBe(200);
    await t.caller('admin').staff.deactivate({ id: p.id });
    const refused = await me(p.token);
    expect(refused.statusCode).toBe(403);
    expect(messageOf(refused)).toBe('This staff account is deactivated');
  });

  it('links only a verified email, whatever its case', async () => {
    const email = `${randomUUID().slice(0, 8)}@team.example`;
    await t.caller('admin').staff.invite({ email: email.toUpperCase(), displayName: 'New', role: 'agent' });
    const sub = randomUUID();
    const unverified = await me(await signWithKey(es, jwks.url, { sub, email, verified: false }));
    expect(unverified.statusCode).toBe(403);
    expect(messageOf(unverified)).toContain('not verified');
    const noClaim = await me(await signWithKey(es, jwks.url, { sub, email }));
    expect(noClaim.statusCode).toBe(403);
    const verified = await me(
      await signWithKey(es, jwks.url, { sub, email: email.toUpperCase(), verified: true }),
    );
    expect(verified.statusCode).toBe(200);
    expect(verified.json().result.data.json.staff).toMatchObject({ email, linked: true });
    // Linked once: another Supabase user with the same email is nobody.
    const other = await me(await signWithKey(es, jwks.url, { email, verified: true }));
    expect(other.statusCode).toBe(401);
  });

  it('agents list active names only, change only their own availability, and manage nobody', async () => {
    const agent = await person('agent');
    const colleague = await person('agent');
    const call = (path: string, body?: unknown) =>
      app.inject({
        method: body === undefined ? 'GET' : 'POST',
        url: `/trpc/${path}`,
        headers: { authorization: `Bearer ${agent.token}`, 'content-type': 'application/json' },
        ...(body === undefined ? {} : { payload: JSON.stringify({ json: body }) }),
      });
    const list = await call('staff.list');
    expect(list.statusCode).toBe(200);
    const items = list.json().result.data.json.items as Array<Record<string, unknown>>;
    expect(items.length).toBeGreaterThan(1);
    for (const item of items)
      expect(Object.keys(item).sort()).toEqual(['available', 'displayName', 'id', 'role']);

    expect((await call('staff.update', { id: agent.id, available: false })).statusCode).toBe(200);
    expect((await call('staff.update', { id: colleague.id, available: false })).statusCode).toBe(403);
    expect((await call('staff.update', { id: agent.id, role: 'admin' })).statusCode).toBe(403);
    expect(
      (await call('staff.invite', { email: 'x@team.example', displayName: 'X', role: 'admin' })).statusCode,
    ).toBe(403);
    expect((await call('staff.deactivate', { id: colleague.id })).statusCode).toBe(403);
    expect((await call('keys.list')).statusCode).toBe(403);
  });
});

describe('the last active admin', () => {
  it('cannot be demoted or deactivated, even by two concurrent demotions', async () => {
    const admin = t.caller('admin');
    // Start from a team whose only active admins are the two below.
    const { items } = await admin.staff.list({ includeInactive: false });
    for (const s of items)
      if ('email' in s && s.role === 'admin')
        await admin.staff.update({ id: s.id, role: 'agent' }).catch(() => {});
    const a = await person('admin');
    const b = await person('admin');
    for (const s of (await admin.staff.list({ includeInactive: false })).items) {
      if (s.role === 'admin' && s.id !== a.id && s.id !== b.id)
        await admin.staff.update({ id: s.id, role: 'agent' });
    }
    const results = await Promise.allSettled([
      admin.staff.update({ id: a.id, role: 'agent' }),
      admin.staff.update({ id: b.id, role: 'agent' }),
    ]);
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    const refused = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
    expect(refused.reason).toMatchObject({ code: 'CONFLICT' });
    expect(String(refused.reason.message)).toContain('last active admin');

    const left = (await admin.staff.list({ includeInactive: false })).items.filter((s) => s.role === 'admin');
    expect(left).toHaveLength(1);
    const last = left[0]!.id;
    await expect(admin.staff.deactivate({ id: last })).rejects.toMatchObject({ code: 'CONFLICT' });
    await expect(admin.staff.update({ id: last, active: false })).rejects.toMatchObject({ code: 'CONFLICT' });
    // Demoting an agent or changing the admin's name is fine.
    await expect(admin.staff.update({ id: last, displayName: 'Still admin' })).resolves.toMatchObject({
      role: 'admin',
    });
  });

  it('invites are unique by email and refuse bad input with 4xx', async () => {
    const admin = t.caller('admin');
    const email = `${randomUUID().slice(0, 8)}@team.example`;
    await admin.staff.invite({ email, displayName: 'One', role: 'agent' });
    await expect(
      admin.staff.invite({ email: email.toUpperCase(), displayName: 'Two', role: 'agent' }),
    ).rejects.toMatchObject({ code: 'CONFLICT' });
    await expect(
      admin.staff.invite({ email: 'not-an-email', displayName: 'X', role: 'agent' }),
    ).rejects.toMatchObject({ code: 'BAD_REQUEST' });
    await expect(admin.staff.update({ id: randomUUID(), available: true })).rejects.toMatchObject({
      code: 'NOT_FOUND',
    });
  });
});

describe('a project with the legacy secret only', () => {
  const SECRET = 'local-development-secret-at-least-32-characters';
  let s: TestRuntime;
  beforeAll(async () => {
    s = await createTestRuntime({ SUPABASE_JWT_SECRET: SECRET, RATE_LIMIT_PER_MINUTE: '3' });
  });
  afterAll(() => s?.close());

  it('accepts HS256 tokens and refuses asymmetric ones (no JWKS configured)', async () => {
    const email = 'hs@team.example';
    await s.caller('admin').staff.invite({ email, displayName: 'HS', role: 'agent' });
    const sApp = await s.app();
    const token = await signWithSecret(SECRET, 'http://127.0.0.1:54321/auth/v1', { email, verified: true });
    const ok = await sApp.inject({ url: '/trpc/staff.me', headers: { authorization: `Bearer ${token}` } });
    expect(ok.statusCode).toBe(200);
    const asym = await signWithKey(es, jwks.url, { email, verified: true });
    const refused = await sApp.inject({
      url: '/trpc/staff.me',
      headers: { authorization: `Bearer ${asym}` },
    });
    expect(refused.statusCode).toBe(401);
  });

  it('limits a signed-in person per staff id, whatever the address', async () => {
    const email = 'busy@team.example';
    await s.caller('admin').staff.invite({ email, displayName: 'Busy', role: 'agent' });
    const sApp = await s.app();
    const token = await signWithSecret(SECRET, 'http://127.0.0.1:54321/auth/v1', { email, verified: true });
    const codes: number[] = [];
    for (let i = 0; i < 4; i++) {
      const res = await sApp.inject({
        url: '/trpc/staff.me',
        headers: { authorization: `Bearer ${token}` },
        remoteAddress: `10.1.1.${i + 1}`,
      });
      codes.push(res.statusCode);
    }
    expect(codes).toEqual([200, 200, 200, 429]);
  });

  it('counts refused sign-in tokens against the per-IP budget of unauthenticated calls', async () => {
    const sApp = await s.app();
    const bad = await signWithSecret('wrong-secret-wrong-secret-wrong-secret', 'x', { email: 'a@b.c' });
    const codes: number[] = [];
    for (let i = 0; i < 4; i++) {
      const res = await sApp.inject({
        url: '/trpc/staff.me',
        headers: { authorization: `Bearer ${bad}` },
        remoteAddress: '10.9.8.7',
      });
      codes.push(res.statusCode);
    }
    expect(codes).toEqual([401, 401, 401, 429]);
  });
});

describe('logs', () => {
  it('never carry a sign-in token, a stream ticket or the JWT secret', async () => {
    const secret = 'a-jwt-secret-that-must-not-be-logged-0123';
    const token = await signWithSecret(secret, 'http://127.0.0.1:54321/auth/v1', { email: 'l@team.example' });
    const ticket = `wst_${'A'.repeat(43)}`;
    const lines: string[] = [];
    const log = createLogger({ logLevel: 'info' }, [secret], { write: (l: string) => void lines.push(l) });
    log.info({ url: `/trpc/x?connectionParams={"ticket":"${ticket}"}` }, `token ${token} secret ${secret}`);
    log.info(`ticket ${ticket}`);
    const out = lines.join('');
    expect(out).toContain('[redacted]');
    for (const s of [token, ticket, secret, token.split('.')[1]!]) expect(out).not.toContain(s);
  });
});
