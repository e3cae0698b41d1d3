import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { botEvents, campaignRecipients, campaigns, tasks } from '../../drizzle';
import { ingestItems } from '../../server/pipeline/ingest';
import { type FakeOpenAI, startFakeOpenAI } from '../fakes/openai-server';
import { createTestRuntime, type TestRuntime } from '../helpers/runtime';
import { codeOf, minutesAgo, seedConversation } from '../helpers/seed';

const at = (iso: string) => new Date(`2024-03-${iso}Z`);
const ai = (latencyMs: number, promptTokens: number, completionTokens: number) => ({
  model: 'gpt-4o-mini',
  promptTokens,
  completionTokens,
  latencyMs,
});

describe('bot.summary', () => {
  let t: TestRuntime;
  beforeAll(async () => {
    t = await createTestRuntime();
  });
  afterAll(() => t?.close());

  it('counts conversations by owner and lists open handoffs oldest first with their waiting time', async () => {
    const { db } = t.runtime.database;
    await seedConversation(db);
    const older = await seedConversation(db, { owner: 'human', name: 'Ada' });
    const newer = await seedConversation(db, { owner: 'human' });
    await db.insert(tasks).values([
      {
        conversationId: newer.conversation.id,
        contactId: newer.contact.id,
        title: 'newer',
        type: 'handoff',
        createdAt: minutesAgo(10),
      },
      {
        conversationId: older.conversation.id,
        contactId: older.contact.id,
        title: 'older',
        type: 'handoff',
        createdAt: minutesAgo(120),
      },
      { contactId: older.contact.id, title: 'closed', type: 'handoff', status: 'done' },
      { contactId: older.contact.id, title: 'not a handoff' },
    ]);

    const s = await t.caller('agent').bot.summary({});
    expect(s.conversations).toEqual({ bot: 1, human: 2 });
    expect(s.openHandoffs.count).toBe(2);
    expect(s.openHandoffs.items.map((h) => h.title)).toEqual(['older', 'newer']);
    expect(s.openHandoffs.items[0]).toMatchObject({
      conversationId: older.conversation.id,
      contactId: older.contact.id,
      contactName: 'Ada',
      phone: older.contact.phone,
      owner: 'human',
    });
    expect(s.openHandoffs.items[0]!.waitingSeconds).toBeGreaterThanOrEqual(120 * 60);
    expect(s.openHandoffs.items[1]!.waitingSeconds).toBeGreaterThanOrEqual(10 * 60);

    const one = await t.caller('agent').bot.summary({ limit: 1 });
    expect(one.openHandoffs).toMatchObject({ count: 2, items: [{ title: 'older' }] });
  });

  it('errors: BAD_REQUEST for a bad limit, UNAUTHORIZED without a key', async () => {
    expect(await codeOf(t.caller('agent').bot.summary({ limit: 0 }))).toBe('BAD_REQUEST');
    expect(await codeOf(t.caller('agent').bot.summary({ limit: 101 }))).toBe('BAD_REQUEST');
    expect(await codeOf(t.caller(null).bot.summary({}))).toBe('UNAUTHORIZED');
  });
});

describe('stats.dashboard over a period', () => {
  let t: TestRuntime;
  beforeAll(async () => {
    t = await createTestRuntime();
  });
  afterAll(() => t?.close());

  it('counts messages per day, containment, handoffs, AI usage, campaign rates and the lead funnel', async () => {
    const { db } = t.runtime.database;
    const a = await seedConversation(db, {
      createdAt: at('02T06:00:00'),
      leadStatus: 'qualified',
      messages: [
        { direction: 'inbound', body: 'before', at: new Date('2024-02-20T10:00:00Z') },
        { direction: 'inbound', body: 'hi', at: at('01T10:00:00') },
        { direction: 'outbound', body: 'hello', at: at('01T10:00:05'), ai: ai(1000, 100, 20) },
        { direction: 'inbound', body: 'price?', at: at('02T09:00:00') },
        { direction: 'outbound', body: '10 EUR', at: at('02T09:00:03'), ai: ai(3000, 200, 30) },
      ],
    });
    const b = await seedConversation(db, {
      leadStatus: 'customer',
      messages: [
        { direction: 'inbound', body: 'a person please', at: at('02T12:00:00') },
        { direction: 'outbound', author: 'agent', body: 'here', at: at('02T13:00:00') },
      ],
    });
    const c = await seedConversation(db, {
      messages: [
        { direction: 'inbound', body: 'help', at: at('03T08:00:00') },
        { direction: 'outbound', body: 'sure', at: at('03T08:00:02'), ai: ai(2000, 50, 10) },
      ],
    });
    const d = await seedConversation(db, {
      messages: [{ direction: 'outbound', author: 'campaign', body: 'offer', at: at('01T15:00:00') }],
    });
    const e = await seedConversation(db, {
      messages: [{ direction: 'inbound', body: 'later', at: at('05T10:00:00') }],
    });
    const handoff = (conversationId: string, createdAt: Date, reason: string) => ({
      conversationId,
      fromOwner: 'bot' as const,
      toOwner: 'human' as const,
      actorType: 'bot' as const,
      reason,
      createdAt,
    });
    await db
      .insert(botEvents)
      .values([
        handoff(b.conversation.id, at('02T12:01:00'), 'asked for a person'),
        handoff(c.conversation.id, at('03T08:05:00'), 'asked for a person'),
        handoff(e.conversation.id, at('05T10:01:00'), 'angry'),
      ]);
    const [campaign] = await db.insert(campaigns).values({ name: 'march', template: 't' }).returning();
    const recipient = (x: typeof a, status: 'sent' | 'delivered' | 'read' | 'failed', finishedAt: Date) => ({
      campaignId: campaign!.id,
      contactId: x.contact.id,
      phone: x.contact.phone,
      status,
      finishedAt,
    });
    await db
      .insert(campaignRecipients)
      .values([
        recipient(a, 'read', at('01T12:00:00')),
        recipient(b, 'delivered', at('01T12:00:01')),
        recipient(c, 'sent', at('01T12:00:02')),
        recipient(d, 'failed', at('01T12:00:03')),
        recipient(e, 'read', at('10T12:00:00')),
      ]);

    const from = at('01T00:00:00');
    const to = at('04T00:00:00');
    const r = await t.caller('agent').stats.dashboard({ from, to });
    expect(r.period).toEqual({
      from,
      to,
      // Seeded rows carry no human turns (only the pipeline and staff replies record them).
      humanWaitMs: { answered: 0, median: null, p90: null },
      newContacts: 1,
      activeConversations: 4,
      messages: {
        inbound: 4,
        outbound: 5,
        perDay: [
          { day: '2024-03-01', inbound: 1, outbound: 2 },
          { day: '2024-03-02', inbound: 2, outbound: 2 },
          { day: '2024-03-03', inbound: 1, outbound: 1 },
        ],
      },
      bot: {
        conversations: 3,
        contained: 1,
        containment: 0.3333,
        handoffRate: 0.6667,
        handoffs: 2,
        handoffReasons: [{ reason: 'asked for a person', count: 2 }],
      },
      ai: {
        replies: 3,
        latencyMs: { median: 2000, p95: 2900 },
        tokens: { prompt: 350, completion: 60, total: 410 },
      },
      campaigns: {
        sent: 3,
        delivered: 2,
        read: 1,
        failed: 1,
        deliveryRate: 0.6667,
        readRate: 0.3333,
        failureRate: 0.25,
      },
    });
    expect(r.leadFunnel).toEqual([
      { status: 'new', count: 3 },
      { status: 'contacted', count: 0 },
      { status: 'qualified', count: 1 },
      { status: 'proposal', count: 0 },
      { status: 'customer', count: 1 },
      { status: 'lost', count: 0 },
    ]);
    // The headline figures are still there.
    expect(r.conversations).toMatchObject({ total: 5, bot: 5, human: 0 });
    expect(r.contacts.total).toBe(5);

    // Days are counted in the requested time zone: the period covers four Tokyo dates.
    const tokyo = await t.caller('agent').stats.dashboard({ from, to, timeZone: 'Asia/Tokyo' });
    expect(tokyo.period.messages.perDay.map((x) => x.day)).toEqual([
      '2024-03-01',
      '2024-03-02',
      '2024-03-03',
      '2024-03-04',
    ]);
    expect(tokyo.period.messages.perDay.reduce((n, x) => n + x.inbound, 0)).toBe(4);

    // An empty period: zeros, and null rates rather than a division by zero.
    const empty = await t.caller('agent').stats.dashboard({ from: at('20T00:00:00'), to: at('21T00:00:00') });
    expect(empty.period.bot).toMatchObject({ conversations: 0, containment: null, handoffRate: null });
    expect(empty.period.ai.latencyMs).toEqual({ median: null, p95: null });
    expect(empty.period.campaigns.deliveryRate).toBeNull();
    expect(empty.period.messages.perDay).toEqual([{ day: '2024-03-20', inbound: 0, outbound: 0 }]);
  });

  it('defaults to the last 30 days, ending now', async () => {
    const r = await t.caller('agent').stats.dashboard({});
    expect(r.period.to.getTime() - r.period.from.getTime()).toBe(30 * 86_400_000);
    expect(r.period.messages.perDay.length).toBeGreaterThanOrEqual(30);
    const only = await t.caller('agent').stats.dashboard({ to: at('10T00:00:00') });
    expect(only.period.from).toEqual(new Date('2024-02-09T00:00:00Z'));
  });

  it('errors: BAD_REQUEST for from after to or too long a period, UNAUTHORIZED without a key', async () => {
    const a = t.caller('agent');
    expect(await codeOf(a.stats.dashboard({ from: at('04T00:00:00'), to: at('01T00:00:00') }))).toBe(
      'BAD_REQUEST',
    );
    expect(
      await codeOf(a.stats.dashboard({ from: new Date('2020-01-01T00:00:00Z'), to: at('01T00:00:00') })),
    ).toBe('BAD_REQUEST');
    expect(await codeOf(t.caller(null).stats.dashboard({ from: at('01T00:00:00') }))).toBe('UNAUTHORIZED');
  });

  it('takes the period over HTTP (superjson dates)', async () => {
    const key = await t.key('agent');
    const input = {
      json: { from: '2024-03-01T00:00:00.000Z', to: '2024-03-04T00:00:00.000Z' },
      meta: { values: { from: ['Date'], to: ['Date'] } },
    };
    const res = await (await t.app()).inject({
      url: `/trpc/stats.dashboard?input=${encodeURIComponent(JSON.stringify(input))}`,
      headers: { authorization: `Bearer ${key}` },
    });
    expect(res.statusCode).toBe(200);
    expect(res.json().result.data.json.period.messages.perDay).toHaveLength(3);
  });
});

describe('stats.dashboard message figures from the rollup', () => {
  let t: TestRuntime;
  beforeAll(async () => {
    t = await createTestRuntime();
  });
  afterAll(() => t?.close());

  // Messages at odd minutes over the last three days, some within the last hour (never rolled up),
  // some in half-hour and quarter-hour time zones' day edges.
  const ago = (m: number) => new Date(Date.now() - m * 60_000);
  // A 15-minute boundary well in the past, and a short period inside its bucket.
  const boundary = new Date(Math.floor((Date.now() - 2000 * 60_000) / 900_000) * 900_000);
  const inBucket = (m: number) => new Date(boundary.getTime() + m * 60_000);
  const seeded = [
    { direction: 'inbound' as const, body: 'in the short period', at: inBucket(3) },
    { direction: 'inbound' as const, body: 'after it, same bucket', at: inBucket(7) },
    ...[4000, 3001, 2890, 1441, 1439, 900, 733, 181, 95, 64, 61, 59, 44, 17, 3].map((m, i) => ({
      direction: (i % 3 === 0 ? 'outbound' : 'inbound') as 'inbound' | 'outbound',
      body: `m${i}`,
      at: ago(m + (i % 7) / 10),
      ...(i % 3 === 0 ? { ai: ai(500 + i * 137, 100 + i, 10 + i) } : {}),
    })),
  ];
  const dayIn = (timeZone: string, d: Date) =>
    new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' }).format(
      d,
    );
  /** percentile_cont, as Postgres computes it. */
  const percentile = (xs: number[], p: number) => {
    if (!xs.length) return null;
    const s = [...xs].sort((a, b) => a - b);
    const pos = p * (s.length - 1);
    const lo = Math.floor(pos);
    const hi = Math.ceil(pos);
    return Math.round(s[lo]! + (s[hi]! - s[lo]!) * (pos - lo));
  };
  const expected = (from: Date, to: Date, timeZone: string) => {
    const inside = seeded.filter((m) => m.at >= from && m.at < to);
    const latencies = inside.flatMap((m) => (m.ai ? [m.ai.latencyMs] : []));
    const perDay = new Map<string, { inbound: number; outbound: number }>();
    for (const m of inside) {
      const d = dayIn(timeZone, m.at);
      const x = perDay.get(d) ?? { inbound: 0, outbound: 0 };
      x[m.direction]++;
      perDay.set(d, x);
    }
    return {
      inbound: inside.filter((m) => m.direction === 'inbound').length,
      outbound: inside.filter((m) => m.direction === 'outbound').length,
      perDay: Object.fromEntries(perDay),
      ai: {
        replies: latencies.length,
        latencyMs: { median: percentile(latencies, 0.5), p95: percentile(latencies, 0.95) },
        tokens: {
          prompt: inside.reduce((n, m) => n + (m.ai?.promptTokens ?? 0), 0),
          completion: inside.reduce((n, m) => n + (m.ai?.completionTokens ?? 0), 0),
        },
      },
    };
  };

  it('counts exactly what is in the period, whether read from saved buckets, new ones or live messages', async () => {
    const { db, sql } = t.runtime.database;
    await seedConversation(db, { messages: seeded });
    const periods: { from?: Date; to?: Date; timeZone?: string }[] = [
      {},
      { from: ago(3000.55), to: ago(60.3) },
      { from: ago(1500), timeZone: 'Asia/Kolkata' },
      { from: ago(4100), to: ago(16.9), timeZone: 'Asia/Kathmandu' },
      { from: ago(182), to: ago(94) },
      { from: ago(10), to: ago(2) },
      { from: inBucket(1), to: inBucket(5) },
      { timeZone: 'America/St_Johns' },
    ];
    // Twice: the first pass saves the closed buckets it needs, the second reads them.
    for (const pass of [1, 2]) {
      for (const p of periods) {
        const r = await t.caller('agent').stats.dashboard(p);
        const timeZone = p.timeZone ?? 'UTC';
        const want = expected(r.period.from, r.period.to, timeZone);
        const got = r.period;
        const label = `pass ${pass}, ${JSON.stringify(p)}`;
        expect({ inbound: got.messages.inbound, outbound: got.messages.outbound }, label).toEqual({
          inbound: want.inbound,
          outbound: want.outbound,
        });
        expect(
          Object.fromEntries(
            got.messages.perDay
              .filter((d) => d.inbound + d.outbound > 0)
              .map((d) => [d.day, { inbound: d.inbound, outbound: d.outbound }]),
          ),
          label,
        ).toEqual(want.perDay);
        expect(got.messages.perDay[0]!.day, label).toBe(dayIn(timeZone, r.period.from));
        expect(got.messages.perDay.at(-1)!.day, label).toBe(
          dayIn(timeZone, new Date(r.period.to.getTime() - 1)),
        );
        expect(
          {
            replies: got.ai.replies,
            latencyMs: got.ai.latencyMs,
            prompt: got.ai.tokens.prompt,
            completion: got.ai.tokens.completion,
          },
          label,
        ).toEqual({
          replies: want.ai.replies,
          latencyMs: want.ai.latencyMs,
          prompt: want.ai.tokens.prompt,
          completion: want.ai.tokens.completion,
        });
      }
    }
    // Saved: whole 15-minute buckets that ended over an hour ago, each once, empty ones included.
    const [saved] = await sql`
      select count(*)::int as n, count(distinct bucket_start)::int as distinct_n,
             sum(inbound + outbound)::int as messages,
             bool_and(extract(epoch from bucket_start)::bigint % 900 = 0) as aligned,
             max(bucket_start) + interval '15 minutes' <= now() - interval '1 hour' as closed
      from message_stats`;
    expect(saved!.n).toBeGreaterThan(96);
    expect(saved!.distinct_n).toBe(saved!.n);
    expect(saved!.aligned).toBe(true);
    expect(saved!.closed).toBe(true);
    expect(saved!.messages).toBeLessThanOrEqual(seeded.filter((m) => m.at < ago(60)).length);
  });
});

describe('stats.systemStatus', () => {
  let fake: FakeOpenAI;
  let t: TestRuntime;
  beforeAll(async () => {
    fake = await startFakeOpenAI();
    t = await createTestRuntime({ OPENAI_API_KEY: fake.apiKey, OPENAI_BASE_URL: fake.url });
  });
  afterAll(async () => {
    await t?.close();
    await fake?.close();
  });

  it('checks OpenAI live (once a minute), reports the queue backlog and the latest session status', async () => {
    const before = await t.caller('agent').stats.systemStatus();
    expect(before.openai).toMatchObject({ configured: true, reachable: true });
    expect(before.openai.checkedAt).toBeInstanceOf(Date);
    expect(before.gateway).toEqual({
      configured: false,
      sessionStatus: null,
      sessionStatusAt: null,
      live: null,
    });
    expect(before.database.reachable).toBe(true);
    expect(before.queue.reachable).toBe(true);

    await t.runtime.queue.define({ name: 'status-probe' });
    await t.runtime.queue.send('status-probe', { n: 1 });
    await ingestItems(t.runtime.pipeline.deps, [{ kind: 'session', status: 'connected' }]);

    const after = await t.caller('agent').stats.systemStatus();
    expect(after.queue.depth).toBeGreaterThanOrEqual(1);
    expect(after.queue.oldestWaitingSeconds).not.toBeNull();
    expect(after.gateway.sessionStatus).toBe('connected');
    expect(after.gateway.sessionStatusAt).toBeInstanceOf(Date);
    // The second call within a minute answered from the cached check.
    expect(fake.modelListings).toBe(1);
    expect(after.openai.checkedAt).toEqual(before.openai.checkedAt);

    // /ready stays cheap: it does not call OpenAI.
    const ready = await (await t.app()).inject({ url: '/ready' });
    expect(ready.json()).toEqual({ ready: true, database: true, queue: true });
    expect(fake.modelListings).toBe(1);

    await ingestItems(t.runtime.pipeline.deps, [{ kind: 'session', status: 'disconnected' }]);
    expect((await t.caller('admin').stats.systemStatus()).gateway.sessionStatus).toBe('disconnected');
    expect(await codeOf(t.caller(null).stats.systemStatus())).toBe('UNAUTHORIZED');
  });

  it('reports OpenAI unreachable with a refused key, and not configured without one', async () => {
    const wrong = await createTestRuntime({ OPENAI_API_KEY: 'sk-wrong', OPENAI_BASE_URL: fake.url });
    try {
      const s = await wrong.caller('agent').stats.systemStatus();
      expect(s.status).toBe('degraded');
      expect(s.openai).toMatchObject({ configured: true, reachable: false });
      expect(s.openai.detail).toContain('refused');
    } finally {
      await wrong.close();
    }
    const none = await createTestRuntime();
    try {
      const s = await none.caller('agent').stats.systemStatus();
      expect(s.openai).toMatchObject({ configured: false, reachable: null, checkedAt: null });
    } finally {
      await none.close();
    }
  });
});
