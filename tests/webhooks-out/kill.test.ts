import { afterAll, describe, expect, it } from 'vitest';
import { webhookHeaders } from '../../scripts/lib/wasender-payloads';
import { textWebhook, WEBHOOK_SECRET } from '../helpers/pipeline';
import { createApiKeyOn, processFixture, waitUntil } from '../helpers/reliability';
import { type ServerProcess, startServerProcess } from '../helpers/server-process';
import { type Receiver, startReceiver } from './receiver';

/**
 * Nothing is lost when the server is killed (kill -9) between the events and their delivery: once
 * with the events recorded and no worker yet, once with deliveries in flight at a receiver that does
 * not answer. After the restart the receiver gets every event, signed.
 */

const baseUrl = process.env.DATABASE_URL;
const cleanups: Array<() => Promise<unknown>> = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => {});
});

async function trpc(server: ServerProcess, key: string, path: string, input: unknown) {
  const res = await fetch(`${server.url}/trpc/${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
    body: JSON.stringify({ json: input }),
  });
  const body = (await res.json()) as { result?: { data: { json: unknown } } };
  if (!res.ok) throw new Error(`${path}: ${res.status} ${JSON.stringify(body)}`);
  return body.result!.data.json as Record<string, unknown>;
}

async function post(server: ServerProcess, i: number) {
  const res = await fetch(`${server.url}/webhook`, {
    method: 'POST',
    headers: webhookHeaders(WEBHOOK_SECRET),
    body: JSON.stringify(
      textWebhook({ phone: `1415555${String(700 + i).padStart(4, '0')}`, text: `hello ${i}` }),
    ),
  });
  expect(res.status).toBe(200);
}

describe.skipIf(!baseUrl)('outbound webhooks through kill -9 (real Postgres)', () => {
  it('delivers every event recorded before the kill after the restart', async () => {
    const receiver: Receiver = await startReceiver();
    cleanups.push(() => receiver.close());
    const { scratch, env } = await processFixture(baseUrl!, cleanups, {
      extra: {
        OUTBOUND_WEBHOOKS_ALLOW_PRIVATE: 'true',
        OUTBOUND_WEBHOOKS_RETRY_SECONDS: '0,0,0,0,0,0,0,0,0,0',
        OUTBOUND_WEBHOOKS_TIMEOUT_MS: '1500',
        OUTBOUND_WEBHOOKS_POLL_MS: '100',
      },
    });

    // 1. A web-only process: events are recorded, nothing delivers them; then it dies.
    let server = await startServerProcess({ ...env, PROCESS_ROLE: 'web' });
    cleanups.push(() => server.stop());
    const key = await createApiKeyOn(scratch.url, 'admin');
    const sub = await trpc(server, key, 'webhooks.create', {
      url: receiver.url,
      events: ['message.created'],
    });
    receiver.secret = sub.secret as string;
    for (let i = 0; i < 3; i++) await post(server, i);
    await server.crash();
    expect(receiver.received).toHaveLength(0);

    // 2. A worker that takes deliveries to a receiver that never answers; killed mid-delivery.
    receiver.respond = () => 'hang';
    server = await startServerProcess(env);
    for (let i = 3; i < 6; i++) await post(server, i);
    await waitUntil('deliveries in flight', () => receiver.received.length >= 1, {
      timeoutMs: 30_000,
      detail: () => server.output(),
    });
    await server.crash();
    const [inFlight] = await scratch.sql<[{ n: number }]>`
      select count(*)::int as n from webhook_deliveries where state = 'pending'`;
    expect(inFlight!.n).toBeGreaterThan(0);

    // 3. The receiver recovers; the restarted server delivers every message event of the log: the six
    // customer messages and the bot's replies.
    receiver.respond = () => 200;
    server = await startServerProcess(env);
    const delivered = () =>
      new Set([...receiver.byEvent()].filter(([, l]) => l.some((r) => r.answered === 200)).map(([id]) => id));
    await waitUntil(
      'every message event delivered',
      async () => {
        const logged = await scratch.sql<Array<{ id: string; direction: string }>>`
          select id::text, payload->>'direction' as direction from events where type = 'message.created'`;
        const got = delivered();
        return (
          logged.filter((e) => e.direction === 'inbound').length === 6 &&
          logged.filter((e) => e.direction === 'outbound').length === 6 &&
          logged.every((e) => got.has(Number(e.id)))
        );
      },
      {
        timeoutMs: 60_000,
        detail: async () =>
          `${JSON.stringify(await scratch.sql`select event_id, state, attempts, last_error from webhook_deliveries`)}\n${server.output()}`,
      },
    );
    expect(receiver.received.every((r) => r.verified !== null)).toBe(true);
    for (const list of receiver.byEvent().values())
      expect(new Set(list.map((r) => r.webhookId)).size).toBe(1);
    const types = [...receiver.byEvent().values()].map((l) => l[0]!.verified!.type);
    expect(types).toEqual(Array(12).fill('message.created'));
    const inbound = [...receiver.byEvent().values()].filter(
      (l) => l[0]!.verified!.data.direction === 'inbound',
    );
    expect(inbound).toHaveLength(6);
    // The log catches up with what the receiver saw (its 200 is recorded just after it is sent).
    await waitUntil(
      'the delivery log to show every delivery succeeded',
      async () => {
        const rows = await scratch.sql<Array<{ state: string }>>`select state from webhook_deliveries`;
        return rows.length === 12 && rows.every((r) => r.state === 'succeeded');
      },
      { timeoutMs: 30_000 },
    );
  }, 180_000);
});
