import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { webhookHeaders } from '../../scripts/lib/wasender-payloads';
import { textWebhook, WEBHOOK_SECRET } from '../helpers/pipeline';
import { createTestRuntime, type TestRuntime } from '../helpers/runtime';

/** Rate limits attacked the way an attacker would: guessed keys, full batches, unsigned floods. */

const randomKey = () => `wcb_${randomBytes(24).toString('base64url')}`;
const ATTACKER = '203.0.113.66';
const OFFICE = '198.51.100.10';
const GATEWAY = '192.0.2.20';

/** Makes every API key lookup fail, so a request that still looks a key up is seen (a 500). */
async function hideKeys(t: TestRuntime) {
  await t.runtime.database.sql`alter table api_keys rename to api_keys_hidden`;
  return () => t.runtime.database.sql`alter table api_keys_hidden rename to api_keys`;
}

describe('/trpc: callers without a valid key', () => {
  let t: TestRuntime;
  beforeAll(async () => {
    t = await createTestRuntime({ RATE_LIMIT_PER_MINUTE: '10' });
  });
  afterAll(() => t?.close());

  const call = async (key: string | null, ip: string) =>
    (await t.app()).inject({
      url: '/trpc/campaigns.list',
      remoteAddress: ip,
      headers: key ? { authorization: `Bearer ${key}` } : {},
    });

  it('many random keys from one IP share one budget; past it no key is looked up; valid keys go on', async () => {
    const valid = await t.key('agent');
    // The office's key is used once before the attack (so it is known) and keeps working throughout.
    expect((await call(valid, ATTACKER)).statusCode).toBe(200);

    const codes: number[] = [];
    for (let i = 0; i < 10; i++) codes.push((await call(randomKey(), ATTACKER)).statusCode);
    expect(codes).toEqual(Array(10).fill(401));

    const restore = await hideKeys(t);
    try {
      for (let i = 0; i < 40; i++) {
        const res = await call(i % 2 ? randomKey() : null, ATTACKER);
        // 429, not 500: the exhausted IP's guesses never reach the database.
        expect(res.statusCode).toBe(429);
        expect(Number(res.headers['retry-after'])).toBeGreaterThanOrEqual(1);
        expect(Number(res.headers['retry-after'])).toBeLessThanOrEqual(60);
      }
      // A known valid key is served from the same IP, without a lookup.
      expect((await call(valid, ATTACKER)).statusCode).toBe(200);
    } finally {
      await restore();
    }
    // Another IP has its own budget for unauthenticated calls, and a valid key its own.
    expect((await call(randomKey(), OFFICE)).statusCode).toBe(401);
    expect((await call(valid, OFFICE)).statusCode).toBe(200);
  });

  it('a guessed key seen recently is not looked up again', async () => {
    const guess = randomKey();
    expect((await call(guess, '203.0.113.70')).statusCode).toBe(401);
    const restore = await hideKeys(t);
    try {
      expect((await call(guess, '203.0.113.70')).statusCode).toBe(401);
    } finally {
      await restore();
    }
  });

  it('the unknown-key memory is bounded: the oldest guesses make room for new ones', async () => {
    const auth = t.runtime.services.auth;
    const first = randomKey();
    await auth.authenticate(first);
    expect(auth.peek(first)).toBeNull();
    for (let i = 0; i < 10_000; i++) await auth.authenticate(randomKey());
    // The first guess was pushed out; a recent one is still known.
    expect(auth.peek(first)).toBeUndefined();
    const last = randomKey();
    await auth.authenticate(last);
    expect(auth.peek(last)).toBeNull();
  }, 120_000);
});

describe('/trpc: batches', () => {
  let t: TestRuntime;
  beforeAll(async () => {
    t = await createTestRuntime({ RATE_LIMIT_PER_MINUTE: '25', TRPC_MAX_BATCH_SIZE: '20' });
  });
  afterAll(() => t?.close());

  it('each procedure of a batch counts against the key', async () => {
    const app = await t.app();
    const key = await t.key('agent');
    const batch = (n: number) =>
      app.inject({
        url: `/trpc/${Array(n).fill('campaigns.list').join(',')}?batch=1&input={}`,
        headers: { authorization: `Bearer ${key}` },
        remoteAddress: OFFICE,
      });
    expect((await batch(20)).statusCode).toBe(200);
    const second = await batch(20);
    expect(second.statusCode).toBe(429);
    expect(second.headers['retry-after']).toBeDefined();
    // What is left (5) still serves smaller calls, then nothing.
    expect((await batch(5)).statusCode).toBe(200);
    expect((await batch(1)).statusCode).toBe(429);
  });

  it('unauthenticated batches count per procedure against the IP', async () => {
    const app = await t.app();
    const batch = () =>
      app.inject({
        url: `/trpc/${Array(20).fill('campaigns.list').join(',')}?batch=1&input={}`,
        headers: { authorization: `Bearer ${randomKey()}` },
        remoteAddress: ATTACKER,
      });
    expect((await batch()).statusCode).toBe(401);
    expect((await batch()).statusCode).toBe(429);
  });
});

describe('/webhook: unsigned floods', () => {
  let t: TestRuntime;
  beforeAll(async () => {
    t = await createTestRuntime({
      WASENDER_WEBHOOK_SECRET: WEBHOOK_SECRET,
      WEBHOOK_RATE_LIMIT_PER_MINUTE: '5',
    });
  });
  afterAll(() => t?.close());

  const post = async (signature: string | null, phone: string, ip = GATEWAY) =>
    (await t.app()).inject({
      method: 'POST',
      url: '/webhook',
      remoteAddress: ip,
      headers: webhookHeaders(signature || null),
      payload: JSON.stringify(textWebhook({ phone, text: 'hello' })),
    });

  it('junk from the gateway’s own address never spends the budget of signed posts', async () => {
    const codes = new Set<number>();
    for (let i = 0; i < 60; i++) {
      const res = await post(i % 2 ? null : `junk-${i}`, '14155550800');
      codes.add(res.statusCode);
      if (res.statusCode === 429) expect(res.headers['retry-after']).toBeDefined();
    }
    expect([...codes].sort()).toEqual([401, 429]);
    const ok = await post(WEBHOOK_SECRET, '14155550801');
    expect(ok.statusCode).toBe(200);
    expect(ok.json()).toMatchObject({ stored: 1 });
  });

  it('signed posts have their own limit, with Retry-After', async () => {
    const codes: number[] = [];
    for (let i = 0; i < 6; i++)
      codes.push((await post(WEBHOOK_SECRET, `1415555081${i}`, '192.0.2.21')).statusCode);
    expect(codes).toEqual([200, 200, 200, 200, 200, 429]);
  });
});

describe('TRUST_PROXY', () => {
  const PROXY = '10.0.0.5';
  const through = async (t: TestRuntime, client: string) =>
    (await t.app()).inject({
      url: '/trpc/campaigns.list',
      remoteAddress: PROXY,
      headers: { 'x-forwarded-for': client, authorization: `Bearer ${randomKey()}` },
    });

  it('behind a trusted proxy, each client IP has its own budget', async () => {
    const t = await createTestRuntime({ RATE_LIMIT_PER_MINUTE: '2', TRUST_PROXY: PROXY });
    try {
      expect((await through(t, '203.0.113.1')).statusCode).toBe(401);
      expect((await through(t, '203.0.113.1')).statusCode).toBe(401);
      expect((await through(t, '203.0.113.1')).statusCode).toBe(429);
      expect((await through(t, '203.0.113.2')).statusCode).toBe(401);
    } finally {
      await t.close();
    }
  });

  it('by default X-Forwarded-For is ignored: a caller cannot claim fresh addresses', async () => {
    const t = await createTestRuntime({ RATE_LIMIT_PER_MINUTE: '2' });
    try {
      expect((await through(t, '203.0.113.1')).statusCode).toBe(401);
      expect((await through(t, '203.0.113.2')).statusCode).toBe(401);
      expect((await through(t, '203.0.113.3')).statusCode).toBe(429);
    } finally {
      await t.close();
    }
  });

  it('a hop count trusts that many proxies nearest the server', async () => {
    const t = await createTestRuntime({ RATE_LIMIT_PER_MINUTE: '1', TRUST_PROXY: '1' });
    try {
      expect((await through(t, '203.0.113.1')).statusCode).toBe(401);
      expect((await through(t, '203.0.113.2')).statusCode).toBe(401);
      expect((await through(t, '203.0.113.1')).statusCode).toBe(429);
    } finally {
      await t.close();
    }
  });
});
