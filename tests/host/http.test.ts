import { Readable } from 'node:stream';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { contacts } from '../../drizzle';
import { createLogger } from '../../server/log';
import { createTestRuntime, type TestRuntime } from '../helpers/runtime';

const lines: string[] = [];
let t: TestRuntime;
let key: string;
beforeAll(async () => {
  const logger = createLogger({ logLevel: 'info' }, ['sk-test-secret-value'], {
    write: (l: string) => void lines.push(l),
  });
  t = await createTestRuntime(
    { CORS_ORIGINS: 'https://dashboard.example.com', TRPC_MAX_BATCH_SIZE: '3', BODY_LIMIT_BYTES: '2048' },
    { logger },
  );
  key = await t.key('admin');
});
afterAll(() => t?.close());

describe('health and readiness', () => {
  it('/health needs no key and says which integrations are missing', async () => {
    const res = await (await t.app()).inject({ url: '/health' });
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body.status).toBe('ok');
    expect(body.integrations.openai.configured).toBe(false);
    expect(body.integrations.openai.detail).toContain('OPENAI_API_KEY');
    expect(body.integrations.webhook.detail).toContain('WASENDER_WEBHOOK_SECRET');
  });

  it('/ready reports the database and the queue', async () => {
    const res = await (await t.app()).inject({ url: '/ready' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ ready: true, database: true, queue: true });
  });

  it('security headers are set', async () => {
    const res = await (await t.app()).inject({ url: '/health' });
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.headers['x-frame-options']).toBe('DENY');
  });
});

describe('tRPC transport', () => {
  const auth = () => ({ authorization: `Bearer ${key}` });

  it('serves batches whose path is longer than the default parameter limit', async () => {
    const paths = ['stats.systemStatus', 'campaigns.list', 'leads.list'];
    const url = `/trpc/${paths.join(',')}?batch=1&input=${encodeURIComponent('{}')}`;
    expect(paths.join(',').length).toBeGreaterThan(40);
    const res = await (await t.app()).inject({ url, headers: auth() });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toHaveLength(3);
  });

  it('rejects a batch larger than the configured maximum with 400', async () => {
    const paths = Array.from({ length: 4 }, () => 'stats.systemStatus');
    const res = await (await t.app()).inject({
      url: `/trpc/${paths.join(',')}?batch=1&input={}`,
      headers: auth(),
    });
    expect(res.statusCode).toBe(400);
  });

  it('accepts a 120-procedure path under a raised batch limit (maxParamLength)', async () => {
    const wide = await createTestRuntime({ TRPC_MAX_BATCH_SIZE: '200' });
    try {
      const wideKey = await wide.key('agent');
      const paths = Array.from({ length: 120 }, () => 'campaigns.list');
      expect(paths.join(',').length).toBeGreaterThan(1000);
      const res = await (await wide.app()).inject({
        url: `/trpc/${paths.join(',')}?batch=1&input={}`,
        headers: { authorization: `Bearer ${wideKey}` },
      });
      expect(res.statusCode).toBe(200);
    } finally {
      await wide.close();
    }
  });

  it('refuses bodies over the limit with 413', async () => {
    const res = await (await t.app()).inject({
      method: 'POST',
      url: '/trpc/crm.contacts.create',
      headers: { ...auth(), 'content-type': 'application/json' },
      payload: JSON.stringify({ json: { phone: '+14155550120', notes: 'x'.repeat(4000) } }),
    });
    expect(res.statusCode).toBe(413);
  });

  it('holds every call to the limit, streamed or batched, except calls of file-carrying procedures only', async () => {
    const app = await t.app();
    const big = JSON.stringify({ json: { phone: '+14155550121', notes: 'x'.repeat(4000) } });
    const headers = { ...auth(), 'content-type': 'application/json' };
    // No Content-Length: the body is counted as it arrives.
    const streamed = await app.inject({
      method: 'POST',
      url: '/trpc/crm.contacts.create',
      headers,
      payload: Readable.from([big.slice(0, 2000), big.slice(2000)]),
    });
    expect(streamed.statusCode).toBe(413);
    // A batch that names one file procedure and one other is held to the limit.
    const batch = JSON.stringify({ 0: { json: {} }, 1: { json: { notes: 'x'.repeat(4000) } } });
    const mixed = await app.inject({
      method: 'POST',
      url: '/trpc/conversations.sendMedia,crm.contacts.create?batch=1',
      headers,
      payload: batch,
    });
    expect(mixed.statusCode).toBe(413);
    // A file procedure alone takes a body over BODY_LIMIT_BYTES (its input is checked as usual).
    const file = await app.inject({
      method: 'POST',
      url: '/trpc/conversations.sendMedia',
      headers,
      payload: JSON.stringify({
        json: {
          conversationId: '00000000-0000-4000-8000-000000000009',
          kind: 'image',
          data: Buffer.alloc(3000, 7).toString('base64'),
        },
      }),
    });
    expect(file.statusCode).not.toBe(413);
    expect([400, 404]).toContain(file.statusCode);
    const stored = await t.runtime.database.db
      .select()
      .from(contacts)
      .where(eq(contacts.phone, '+14155550121'));
    expect(stored).toHaveLength(0);
  });
});

describe('CORS', () => {
  it('allows a configured origin and no other', async () => {
    const app = await t.app();
    const pre = (origin: string) =>
      app.inject({
        method: 'OPTIONS',
        url: '/trpc/stats.systemStatus',
        headers: {
          origin,
          'access-control-request-method': 'GET',
          'access-control-request-headers': 'authorization',
        },
      });
    const ok = await pre('https://dashboard.example.com');
    expect(ok.headers['access-control-allow-origin']).toBe('https://dashboard.example.com');
    const other = await pre('https://evil.example.net');
    expect(other.headers['access-control-allow-origin']).toBeUndefined();
  });
});

describe('logging', () => {
  it('never writes the bearer key', async () => {
    const app = await t.app();
    await app.inject({ url: '/trpc/stats.systemStatus', headers: { authorization: `Bearer ${key}` } });
    expect(lines.length).toBeGreaterThan(0);
    expect(lines.join('\n')).not.toContain(key);
  });

  it('redacts credentials in structured fields and configured secrets in free text', async () => {
    const app = await t.app();
    app.log.warn(
      {
        headers: { authorization: `Bearer ${key}`, 'x-webhook-signature': 'sig-value-1' },
        apiToken: 'tok-1',
      },
      'upstream said: invalid key sk-test-secret-value',
    );
    const last = lines.at(-1)!;
    expect(last).not.toContain(key);
    expect(last).not.toContain('sig-value-1');
    expect(last).not.toContain('tok-1');
    expect(last).not.toContain('sk-test-secret-value');
    expect(last.match(/\[redacted\]/g)?.length).toBe(4);
  });
});

describe('rate limits', () => {
  it('limit one abusive key while other callers and /health keep working', async () => {
    const limited = await createTestRuntime({ RATE_LIMIT_PER_MINUTE: '5' });
    try {
      const app = await limited.app();
      const noisy = await limited.key('agent');
      const quiet = await limited.key('agent');
      const call = (key: string) =>
        app.inject({ url: '/trpc/campaigns.list', headers: { authorization: `Bearer ${key}` } });
      const codes: number[] = [];
      for (let i = 0; i < 8; i++) codes.push((await call(noisy)).statusCode);
      expect(codes.slice(0, 5)).toEqual([200, 200, 200, 200, 200]);
      expect(codes.slice(5)).toEqual([429, 429, 429]);
      expect((await call(quiet)).statusCode).toBe(200);
      expect((await app.inject({ url: '/health' })).statusCode).toBe(200);
    } finally {
      await limited.close();
    }
  });
});

describe('slow bodies', () => {
  it('a request whose body never ends is cut off after the request timeout', async () => {
    const slow = await createTestRuntime({ REQUEST_TIMEOUT_MS: '1000' });
    try {
      const app = await slow.app();
      await app.listen({ host: '127.0.0.1', port: 0 });
      const { port } = app.server.address() as { port: number };
      const { connect } = await import('node:net');
      const socket = connect(port, '127.0.0.1');
      let answer = '';
      socket.on('data', (d) => (answer += d));
      socket.write(
        'POST /trpc/crm.contacts.create HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"json":',
      );
      const closed = await new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => resolve(false), 8000);
        socket.on('close', () => {
          clearTimeout(timer);
          resolve(true);
        });
      });
      expect(closed).toBe(true);
      expect(answer).not.toMatch(/^HTTP\/1.1 2/);
      // Other callers are still served.
      expect((await app.inject({ url: '/health' })).statusCode).toBe(200);
    } finally {
      await slow.close();
    }
  });
});
