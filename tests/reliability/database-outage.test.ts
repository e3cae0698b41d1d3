import postgres from 'postgres';
import { afterAll, describe, expect, it } from 'vitest';
import { startFakeOpenAI } from '../fakes/openai-server';
import { startFakeWasender } from '../fakes/wasender-server';
import {
  createApiKeyOn,
  deliverAll,
  describeUnfinished,
  explainStuck,
  handoffTasksByPhone,
  inboundBurst,
  outboundByPhone,
  type PrivatePostgres,
  redeliverUntilAcked,
  sendsByPhone,
  serverEnv,
  sleep,
  startPrivatePostgres,
  waitForSettled,
  waitUntil,
} from '../helpers/reliability';
import { type ServerProcess, startServerProcess } from '../helpers/server-process';
import { type SseSubscription, subscribeEvents } from '../helpers/sse';

const cleanups: Array<() => Promise<unknown>> = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => {});
});

async function ready(url: string): Promise<{ status: number; body: unknown } | null> {
  try {
    const res = await fetch(`${url}/ready`, { signal: AbortSignal.timeout(5000) });
    return { status: res.status, body: await res.json() };
  } catch {
    return null;
  }
}

// Runs on its own Postgres cluster (stopped and restarted here), so it never disturbs the shared
// server; it still runs only in the Postgres pass, where the server binaries are installed.
describe.skipIf(!process.env.DATABASE_URL)('database connections killed and Postgres restarted', () => {
  it('the server recovers by itself, /ready reports the outage, and no acknowledged message is lost', async () => {
    const cluster: PrivatePostgres = await startPrivatePostgres();
    cleanups.push(() => cluster.destroy());
    // The test's own connection, named so it is not among the server's connections it kills.
    const sql = postgres(cluster.url, {
      max: 2,
      onnotice: () => {},
      connection: { application_name: 'reliability-test' },
    });
    cleanups.push(() => sql.end({ timeout: 1 }));
    const openai = await startFakeOpenAI({ delayMs: 10 });
    const wasender = await startFakeWasender();
    cleanups.push(
      () => openai.close(),
      () => wasender.close(),
    );
    wasender.script(
      ...Array.from({ length: 2000 }, () => ({ delayMs: 10 + Math.floor(Math.random() * 30) })),
    );
    const server: ServerProcess = await startServerProcess(
      serverEnv({ databaseUrl: cluster.url, openai, wasender }),
    );
    cleanups.push(() => server.stop());
    const alive = () => {
      if (server.child.exitCode !== null || server.child.signalCode !== null)
        throw new Error(`the server process died:\n${server.output().slice(-6000)}`);
    };
    const key = await createApiKeyOn(cluster.url, 'agent');
    const events: SseSubscription = subscribeEvents(server.url, key);
    cleanups.push(async () => events.unsubscribe());
    await events.started;
    expect((await ready(server.url))?.status).toBe(200);

    const first = inboundBurst(150, '415', 'before');
    const during = inboundBurst(50, '646', 'outage');
    const after = inboundBurst(50, '718', 'after');
    const all = [...first, ...during, ...after];
    const t0 = Date.now();
    const steps: string[] = [];
    const step = (what: string) => steps.push(`${((Date.now() - t0) / 1000).toFixed(1)}s ${what}`);
    const context = () => `${steps.join('\n')}\n${server.output().slice(-6000)}`;

    // 1. Every connection of the server is terminated in the middle of the load.
    const posting = deliverAll(first, () => server.url, 20);
    await waitUntil('some replies before the connections are killed', () => wasender.sent.length >= 30, {
      timeoutMs: 60_000,
      detail: context,
      guard: alive,
    });
    const pids = await sql<Array<{ pid: number }>>`
      select pid from pg_stat_activity where application_name = 'whatsapp-crm-bot'`;
    const killed = await sql<Array<{ pid: number }>>`
      select pid from unnest(${pids.map((p) => p.pid)}::int[]) as pid where pg_terminate_backend(pid)`;
    expect(killed.length).toBeGreaterThan(0);
    step(`terminated ${killed.length} connections`);
    const sentAtTerminate = wasender.sent.length;
    await posting;
    await redeliverUntilAcked(first, () => server.url, { timeoutMs: 60_000, guard: alive });
    await waitUntil(
      'replies to flow again after the connections were killed',
      () => wasender.sent.length >= sentAtTerminate + 30,
      { timeoutMs: 60_000, detail: context, guard: alive },
    );
    alive();
    step('replies flow again');

    // 2. Postgres itself goes down (immediate stop: every backend dies) while messages keep coming.
    await cluster.crash();
    step('Postgres stopped');
    // While it is down a webhook may fail at once or wait for a reconnect; a gateway gives up after a while.
    const outagePosting = deliverAll(during, () => server.url, 25, 3000);
    const down = await waitUntil(
      '/ready to report the outage',
      async () => {
        const r = await ready(server.url);
        return r?.status === 503 ? r : null;
      },
      { timeoutMs: 30_000, guard: alive },
    );
    expect(down.body).toMatchObject({ ready: false, database: false });
    await outagePosting;
    // Nothing can be stored while the database is down: no delivery may have been acknowledged.
    expect(during.filter((m) => m.acked)).toEqual([]);
    // Long enough for workers' polls, the maintenance loop, the events listener and the pool to fail.
    await sleep(4000);
    alive();
    expect((await ready(server.url))?.status).toBe(503);

    // 3. Postgres comes back: the server notices by itself.
    await cluster.start();
    step('Postgres started');
    await waitUntil('/ready to answer 200 again', async () => (await ready(server.url))?.status === 200, {
      timeoutMs: 60_000,
      detail: context,
      guard: alive,
    });
    step('ready again');
    await redeliverUntilAcked([...first, ...during], () => server.url, { timeoutMs: 60_000, guard: alive });
    await deliverAll(after, () => server.url, 20);
    await redeliverUntilAcked(after, () => server.url, { timeoutMs: 60_000, guard: alive });

    step('all delivered');
    const report = await waitForSettled(sql, 120_000, { guard: alive });
    step('settled');
    const stuck = await explainStuck(sql, report);
    expect(report, `${describeUnfinished(report)}\n${stuck}\n${context()}`).toEqual({
      jobs: [],
      messages: [],
      unanswered: [],
    });
    alive();

    // Every acknowledged message is stored once and answered once (or, for a send cut off by the
    // outage after it was claimed, marked interrupted for a person), and nobody got two messages.
    const stored = await sql<Array<{ providerMessageId: string }>>`
      select provider_message_id as "providerMessageId" from messages where direction = 'inbound'`;
    expect(stored.map((r) => r.providerMessageId).sort()).toEqual(all.map((m) => m.providerId).sort());
    const atGateway = sendsByPhone(wasender.sent);
    const outbound = await outboundByPhone(sql);
    const tasks = await handoffTasksByPhone(sql);
    const interrupted: string[] = [];
    for (const m of all) {
      const phone = `+${m.phone}`;
      const sends = atGateway.get(phone) ?? [];
      const rows = outbound.get(phone) ?? [];
      expect(sends.length, `${phone} received ${sends.length} messages\n${context()}`).toBeLessThanOrEqual(1);
      expect(rows.map((r) => r.body)).toEqual([`Echo: ${m.text}`]);
      if (rows[0]!.status === 'sent') {
        expect(sends.map((s) => s.text)).toEqual([`Echo: ${m.text}`]);
      } else {
        expect(rows[0]!.status).toBe('failed');
        expect(rows[0]!.error).toMatch(/interrupted/);
        expect(tasks.get(phone)?.length).toBe(1);
        interrupted.push(phone);
      }
    }
    // Only sends in flight when connections died can end that way (two send workers, two events).
    expect(interrupted.length).toBeLessThanOrEqual(4);

    // The event stream that stayed open through the outage carries what happened after it.
    const afterIds = await sql<Array<{ id: string }>>`
      select m.id::text from messages m
      where m.direction = 'inbound' and m.provider_message_id in ${sql(after.map((m) => m.providerId))}`;
    await waitUntil(
      'the open subscription to see the messages stored after the restart',
      () => {
        const seen = new Set(
          events.received.flatMap((r) => (r.data.type === 'message.created' ? [r.data.messageId] : [])),
        );
        return afterIds.every((r) => seen.has(r.id));
      },
      {
        timeoutMs: 30_000,
        detail: () => `received ${events.received.length} events, states ${events.states}`,
      },
    );
    step('events seen');
    console.info(
      `database-outage: ${interrupted.length} interrupted sends, ${wasender.sent.length} sends\n${steps.join('\n')}`,
    );
  }, 300_000);
});
