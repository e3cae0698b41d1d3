import { afterAll, describe, expect, it } from 'vitest';
import { lastUserText } from '../fakes/openai-server';
import {
  createApiKeyOn,
  deliver,
  describeUnfinished,
  explainStuck,
  type Inbound,
  inboundBurst,
  outboundByPhone,
  processFixture,
  redeliverUntilAcked,
  sendsByPhone,
  waitForSettled,
  waitUntil,
} from '../helpers/reliability';
import { type ServerProcess, startServerProcess } from '../helpers/server-process';
import { type SseSubscription, subscribeEvents } from '../helpers/sse';

const baseUrl = process.env.DATABASE_URL;
const cleanups: Array<() => Promise<unknown>> = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => {});
});

const CUSTOMERS = 400;

describe.skipIf(!baseUrl)('two server processes on one database (real Postgres)', () => {
  it('answer every message once, send nothing twice, and stream each other’s events', async () => {
    const { scratch, openai, wasender, env } = await processFixture(baseUrl!, cleanups, {
      openai: { delayMs: 10 },
      // Generous job timeouts: a job retried after a timeout would call the model twice.
      extra: { REPLY_JOB_TIMEOUT_SECONDS: '60', SEND_JOB_TIMEOUT_SECONDS: '60' },
    });
    const a: ServerProcess = await startServerProcess(env);
    cleanups.push(() => a.stop());
    const b: ServerProcess = await startServerProcess(env);
    cleanups.push(() => b.stop());

    const key = await createApiKeyOn(scratch.url, 'agent');
    const onA: SseSubscription = subscribeEvents(a.url, key);
    const onB: SseSubscription = subscribeEvents(b.url, key);
    cleanups.push(async () => {
      onA.unsubscribe();
      onB.unsubscribe();
    });
    await Promise.all([onA.started, onB.started]);

    // Each message goes to A or to B; one in four is delivered to both at the same time, as a
    // gateway retrying on another instance would.
    const burst = inboundBurst(CUSTOMERS, '212', 'twin');
    const route = new Map<Inbound, 'A' | 'B' | 'both'>();
    const deliveries: Array<{ item: Inbound; url: string }> = [];
    burst.forEach((item, i) => {
      const where = i % 4 === 0 ? 'both' : Math.random() < 0.5 ? 'A' : 'B';
      route.set(item, where);
      if (where !== 'B') deliveries.push({ item, url: a.url });
      if (where !== 'A') deliveries.push({ item, url: b.url });
    });
    let next = 0;
    await Promise.all(
      Array.from({ length: 40 }, async () => {
        for (;;) {
          const d = deliveries[next++];
          if (!d) return;
          await deliver(d.item, d.url);
        }
      }),
    );
    await redeliverUntilAcked(burst, () => a.url, { timeoutMs: 30_000 });

    const report = await waitForSettled(scratch.sql, 120_000);
    const stuck = await explainStuck(scratch.sql, report);
    expect(report, `${describeUnfinished(report)}\n${stuck}\n${a.output()}\n${b.output()}`).toEqual({
      jobs: [],
      messages: [],
      unanswered: [],
    });

    // Stored once each, whichever process got it (or both).
    const inbound = await scratch.sql<Array<{ id: string; providerMessageId: string }>>`
      select id::text, provider_message_id as "providerMessageId" from messages where direction = 'inbound'`;
    expect(inbound).toHaveLength(CUSTOMERS);
    const idOf = new Map(inbound.map((r) => [r.providerMessageId, r.id]));

    // Handled once: one model call per message, one reply row, one send.
    const modelCalls = new Map<string, number>();
    for (const r of openai.requests) {
      const text = lastUserText(r.body);
      modelCalls.set(text, (modelCalls.get(text) ?? 0) + 1);
    }
    const atGateway = sendsByPhone(wasender.sent);
    const outbound = await outboundByPhone(scratch.sql);
    for (const m of burst) {
      expect(modelCalls.get(m.text), `model calls for ${m.phone}`).toBe(1);
      expect((outbound.get(`+${m.phone}`) ?? []).map((r) => [r.status, r.body])).toEqual([
        ['sent', `Echo: ${m.text}`],
      ]);
      expect((atGateway.get(`+${m.phone}`) ?? []).map((s) => s.text)).toEqual([`Echo: ${m.text}`]);
    }
    expect(wasender.sent).toHaveLength(CUSTOMERS);
    expect(openai.requests).toHaveLength(CUSTOMERS);

    // Both processes did part of the work, and each one's subscribers saw everything: messages
    // stored by the other process and replies sent by either.
    const onlyA = burst.filter((m) => route.get(m) === 'A').map((m) => idOf.get(m.providerId)!);
    const onlyB = burst.filter((m) => route.get(m) === 'B').map((m) => idOf.get(m.providerId)!);
    expect(onlyA.length).toBeGreaterThan(0);
    expect(onlyB.length).toBeGreaterThan(0);
    const createdSeen = (s: SseSubscription) =>
      new Set(
        s.received.flatMap((r) =>
          r.data.type === 'message.created' && r.data.direction === 'inbound' ? [r.data.messageId] : [],
        ),
      );
    const sentSeen = (s: SseSubscription) =>
      s.received.filter((r) => r.data.type === 'message.status' && r.data.status === 'sent').length;
    for (const [name, s] of [
      ['A', onA],
      ['B', onB],
    ] as const) {
      await waitUntil(
        `the subscriber on ${name} to see every message and every send`,
        () => createdSeen(s).size >= CUSTOMERS && sentSeen(s) >= CUSTOMERS,
        {
          timeoutMs: 30_000,
          detail: () => `inbound seen ${createdSeen(s).size}, sends seen ${sentSeen(s)}, states ${s.states}`,
        },
      );
    }
    const seenOnA = createdSeen(onA);
    const seenOnB = createdSeen(onB);
    expect(onlyB.filter((id) => !seenOnA.has(id))).toEqual([]);
    expect(onlyA.filter((id) => !seenOnB.has(id))).toEqual([]);
    expect(seenOnA.size).toBe(CUSTOMERS);
    expect(seenOnB.size).toBe(CUSTOMERS);
    // No event twice on one stream.
    for (const s of [onA, onB]) expect(new Set(s.received.map((r) => r.id)).size).toBe(s.received.length);
  }, 240_000);
});
