import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recordEvents } from '../../server/db/queries/events';
import { isForbiddenAddress, postWebhook } from '../../server/integrations/outbound-webhooks';
import { closeServer, listenOnLoopback } from '../fakes/http';
import { createTestRuntime, type TestRuntime } from '../helpers/runtime';
import { type Receiver, startReceiver } from './receiver';

/**
 * What outbound webhooks refuse: private destinations (with OUTBOUND_WEBHOOKS_ALLOW_PRIVATE off, the
 * default), redirects, oversized answers, slow receivers, callers who are not admins; and a delivery
 * job run twice sends once.
 */

/** A name other than localhost that /etc/hosts maps to loopback (DNS answers are checked, not names). */
function loopbackName(): string {
  for (const line of readFileSync('/etc/hosts', 'utf8').split('\n')) {
    const [address, ...names] = line.trim().split(/\s+/);
    if (address?.startsWith('127.')) {
      const name = names.find((n) => n && n !== 'localhost' && !n.endsWith('.localhost'));
      if (name) return name;
    }
  }
  return 'localhost';
}

let t: TestRuntime;
let receiver: Receiver;
beforeAll(async () => {
  t = await createTestRuntime({ OUTBOUND_WEBHOOKS_TIMEOUT_MS: '500', OUTBOUND_WEBHOOKS_RETRY_SECONDS: '0' });
  receiver = await startReceiver();
});
afterAll(async () => {
  await receiver?.close();
  await t?.close();
});

describe('private destinations (OUTBOUND_WEBHOOKS_ALLOW_PRIVATE off)', () => {
  const port = () => new URL(receiver.url).port;
  it.each([
    ['loopback', () => `http://127.0.0.1:${port()}/hooks`],
    ['private 10/8', () => 'http://10.1.2.3/hooks'],
    ['cloud metadata', () => 'http://169.254.169.254/latest/meta-data'],
    ['IPv6 loopback', () => `http://[::1]:${port()}/hooks`],
    ['IPv4-mapped IPv6', () => 'http://[::ffff:127.0.0.1]/hooks'],
    ['IPv6 unique local', () => 'https://[fd00::1]/hooks'],
    ['localhost', () => `http://localhost:${port()}/hooks`],
    ['a name resolving to loopback', () => `http://${loopbackName()}:${port()}/hooks`],
  ])('refuses %s with a 400', async (_, url) => {
    await expect(
      t.caller('admin').webhooks.create({ url: url(), events: ['message.created'] }),
    ).rejects.toMatchObject({
      code: 'BAD_REQUEST',
      message: expect.stringMatching(/private or local|local name/),
    });
  });

  it('refuses at connect time a name that resolves to loopback, and sends nothing', async () => {
    const before = receiver.received.length;
    const result = await postWebhook({
      url: `http://${loopbackName()}:${port()}/hooks`,
      body: '{}',
      headers: {},
      timeoutMs: 2000,
      allowPrivate: false,
    });
    expect(result.status).toBeNull();
    expect(result.error).toMatch(/^refused: /);
    expect(receiver.received.length).toBe(before);
  });

  it('refuses a stored subscription whose address became private (the check runs at each delivery)', async () => {
    // As if the URL had pointed at a public address when saved.
    const [sub] = await t.runtime.database.sql<[{ id: string }]>`
      insert into webhook_subscriptions (url, events, secret)
      values (${`http://127.0.0.1:${port()}/hooks`}, ${['*']}, 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw')
      returning id`;
    await t.runtime.webhooks.fanOut();
    await t.runtime.database.db.transaction((tx) =>
      recordEvents(tx, [{ type: 'campaign.progress', campaignId: randomUUID() }]),
    );
    await t.runtime.webhooks.fanOut();
    const [delivery] = (await t.caller('admin').webhooks.deliveries({ subscriptionId: sub!.id })).items;
    await t.runtime.webhooks.runJob({ deliveryId: delivery!.id });
    await t.runtime.webhooks.runJob({ deliveryId: delivery!.id });
    const [after] = (await t.caller('admin').webhooks.deliveries({ subscriptionId: sub!.id })).items;
    expect(after).toMatchObject({ state: 'failed', attempts: 2, lastStatus: null });
    expect(after!.lastError).toMatch(/^refused: /);
    expect(receiver.received).toHaveLength(0);
    await t.caller('admin').webhooks.delete({ id: sub!.id });
  });

  it('classifies every address of the blocked ranges as forbidden and public ones as allowed', () => {
    const octet = fc.integer({ min: 0, max: 255 });
    const v4 = (a: number, b: fc.Arbitrary<number> = octet) =>
      fc.tuple(b, octet, octet).map(([x, y, z]) => `${a}.${x}.${y}.${z}`);
    fc.assert(
      fc.property(
        fc.oneof(
          v4(10),
          v4(127),
          fc.tuple(octet, octet).map(([y, z]) => `169.254.${y}.${z}`),
          fc.tuple(fc.integer({ min: 16, max: 31 }), octet, octet).map(([x, y, z]) => `172.${x}.${y}.${z}`),
          fc.tuple(octet, octet).map(([y, z]) => `192.168.${y}.${z}`),
          fc.tuple(fc.integer({ min: 64, max: 127 }), octet, octet).map(([x, y, z]) => `100.${x}.${y}.${z}`),
        ),
        (ip) => {
          expect(isForbiddenAddress(ip)).toBe(true);
          expect(isForbiddenAddress(`::ffff:${ip}`)).toBe(true);
          expect(isForbiddenAddress(`64:ff9b::${ip}`)).toBe(true);
        },
      ),
    );
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffff }), (n) => {
        const h = n.toString(16);
        expect(isForbiddenAddress(`fe80::${h}`)).toBe(true);
        expect(isForbiddenAddress(`fd12:${h}::1`)).toBe(true);
        expect(isForbiddenAddress(`fc00::${h}`)).toBe(true);
      }),
    );
    for (const ip of ['::1', '::', '0.0.0.0', '::ffff:7f00:1', 'ff02::1', '224.0.0.1', '255.255.255.255'])
      expect(isForbiddenAddress(ip), ip).toBe(true);
    for (const ip of [
      '8.8.8.8',
      '1.1.1.1',
      '93.184.216.34',
      '2606:4700:4700::1111',
      '2a00:1450:4001:80b::200e',
    ])
      expect(isForbiddenAddress(ip), ip).toBe(false);
  });
});

describe('answers', () => {
  it('does not follow redirects, bounds what it reads and keeps, and gives up on a slow receiver', async () => {
    const timers = new Set<NodeJS.Timeout>();
    const hits: string[] = [];
    const server = createServer((req, res) => {
      hits.push(req.url ?? '');
      if (req.url === '/redirect') {
        res.writeHead(302, { location: '/target' });
        res.end();
      } else if (req.url === '/huge') {
        res.writeHead(200);
        res.end(`\u0000${'x'.repeat(5_000_000)}`);
      } else if (req.url === '/slow') {
        // never answers
      } else {
        res.writeHead(200);
        res.end('target');
      }
    });
    const port = await listenOnLoopback(server);
    try {
      const post = (path: string) =>
        postWebhook({
          url: `http://127.0.0.1:${port}${path}`,
          body: '{}',
          headers: {},
          timeoutMs: 500,
          allowPrivate: true,
        });
      const redirected = await post('/redirect');
      expect(redirected).toMatchObject({ status: 302, error: 'HTTP 302' });
      const huge = await post('/huge');
      expect(huge.status).toBe(200);
      expect(huge.error).toBeNull();
      expect(huge.excerpt!.length).toBeLessThanOrEqual(1000);
      expect(huge.excerpt).not.toContain('\u0000');
      const slow = await post('/slow');
      expect(slow).toMatchObject({ status: null, error: 'no answer within 500 ms' });
      expect(hits).toEqual(['/redirect', '/huge', '/slow']);
    } finally {
      await closeServer(server, timers);
    }
  });
});

describe('a delivery job run twice', () => {
  it('sends once', async () => {
    const t2 = await createTestRuntime({ OUTBOUND_WEBHOOKS_ALLOW_PRIVATE: 'true' });
    const r = await startReceiver();
    try {
      const sub = await t2.caller('admin').webhooks.create({ url: r.url, events: ['*'] });
      r.secret = sub.secret;
      await t2.runtime.webhooks.fanOut();
      await t2.runtime.database.db.transaction((tx) =>
        recordEvents(tx, [{ type: 'campaign.progress', campaignId: randomUUID() }]),
      );
      expect(await t2.runtime.webhooks.fanOut()).toBe(1);
      // The fan-out again finds nothing new.
      expect(await t2.runtime.webhooks.fanOut()).toBe(0);
      const [d] = (await t2.caller('admin').webhooks.deliveries({ subscriptionId: sub.id })).items;
      await Promise.all([
        t2.runtime.webhooks.runJob({ deliveryId: d!.id }),
        t2.runtime.webhooks.runJob({ deliveryId: d!.id }),
      ]);
      await t2.runtime.webhooks.runJob({ deliveryId: d!.id });
      expect(r.received).toHaveLength(1);
      expect(r.received[0]!.verified).not.toBeNull();
      const [after] = (await t2.caller('admin').webhooks.deliveries({ subscriptionId: sub.id })).items;
      expect(after).toMatchObject({ state: 'succeeded', attempts: 1 });
    } finally {
      await r.close();
      await t2.close();
    }
  });
});

describe('who may manage webhooks', () => {
  const id = randomUUID();
  const calls = {
    create: (c: ReturnType<TestRuntime['caller']>) =>
      c.webhooks.create({ url: 'https://example.com/h', events: ['*'] }),
    list: (c: ReturnType<TestRuntime['caller']>) => c.webhooks.list(),
    update: (c: ReturnType<TestRuntime['caller']>) => c.webhooks.update({ id, active: false }),
    delete: (c: ReturnType<TestRuntime['caller']>) => c.webhooks.delete({ id }),
    test: (c: ReturnType<TestRuntime['caller']>) => c.webhooks.test({ id }),
    deliveries: (c: ReturnType<TestRuntime['caller']>) => c.webhooks.deliveries({ subscriptionId: id }),
    replay: (c: ReturnType<TestRuntime['caller']>) => c.webhooks.replay({ deliveryId: id }),
  };
  it.each(Object.entries(calls))('%s: agents get 403, anonymous callers 401', async (_, call) => {
    await expect(call(t.caller('agent'))).rejects.toMatchObject({ code: 'FORBIDDEN' });
    await expect(call(t.caller(null))).rejects.toMatchObject({ code: 'UNAUTHORIZED' });
  });

  it('answers bad input with a 400, unknown ids with a 404', async () => {
    const admin = t.caller('admin');
    await expect(admin.webhooks.create({ url: 'ftp://example.com', events: ['*'] })).rejects.toMatchObject({
      code: 'BAD_REQUEST',
    });
    await expect(
      admin.webhooks.create({ url: 'https://u:p@example.com', events: ['*'] }),
    ).rejects.toMatchObject({ code: 'BAD_REQUEST' });
    await expect(
      admin.webhooks.create({ url: 'https://example.com', events: ['nope'] }),
    ).rejects.toMatchObject({ code: 'BAD_REQUEST' });
    await expect(admin.webhooks.create({ url: 'https://example.com', events: [] })).rejects.toMatchObject({
      code: 'BAD_REQUEST',
    });
    const from = new Date();
    await expect(admin.webhooks.replay({ subscriptionId: id, from, to: from })).rejects.toMatchObject({
      code: 'BAD_REQUEST',
    });
    await expect(admin.webhooks.update({ id, active: true })).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(admin.webhooks.deliveries({ subscriptionId: id, cursor: 'garbage' })).rejects.toMatchObject({
      code: 'NOT_FOUND',
    });
  });
});
