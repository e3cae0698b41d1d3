import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../server/config';
import { createEventHub } from '../../server/events/hub';
import { loadPersona } from '../../server/persona';
import { createRuntime, type Runtime } from '../../server/runtime';
import { silentLogger } from '../helpers/log';
import { createTestRuntime, type TestRuntime } from '../helpers/runtime';
import { addMessage, seedConversation } from '../helpers/seed';
import { listen, type SseSubscription, subscribeEvents } from '../helpers/sse';

const onPostgres = Boolean(process.env.DATABASE_URL);

let t: TestRuntime;
let baseUrl: string;
let key: string;
let a: string;
let b: string;
const open: SseSubscription[] = [];

function subscribe(input: Parameters<typeof subscribeEvents>[2] = {}) {
  const s = subscribeEvents(baseUrl, key, input);
  open.push(s);
  return s;
}

beforeAll(async () => {
  t = await createTestRuntime();
  key = await t.key('agent');
  baseUrl = await listen(await t.app());
  const { db } = t.runtime.database;
  a = (await seedConversation(db, { unread: 3 })).conversation.id;
  b = (await seedConversation(db)).conversation.id;
});
afterAll(async () => {
  for (const s of open) s.unsubscribe();
  await t?.close();
});

describe('conversations.events over SSE', () => {
  it('streams new events live, each tracked by its id, with superjson dates', async () => {
    const s = subscribe();
    await s.started;
    const { db } = t.runtime.database;
    const messageId = await addMessage(db, a, 'is anyone there?');
    await t.caller('agent').conversations.markRead({ conversationId: a });
    await t.caller('agent').bot.setEnabled({ conversationId: b, enabled: false, reason: 'agent takes over' });

    await s.waitFor((r) => r.length >= 3);
    expect(s.received.map((r) => r.data.type)).toEqual([
      'message.created',
      'conversation.updated',
      'conversation.owner',
    ]);
    expect(s.received[0]!.data).toMatchObject({ conversationId: a, messageId, direction: 'inbound' });
    expect(s.received[2]!.data).toMatchObject({
      conversationId: b,
      owner: 'human',
      reason: 'agent takes over',
    });
    expect(s.received[0]!.data.at).toBeInstanceOf(Date);
    const ids = s.received.map((r) => Number(r.id));
    expect(ids).toEqual([...ids].sort((x, y) => x - y));
    expect(new Set(ids).size).toBe(3);
    s.unsubscribe();
  });

  it('filters by conversation', async () => {
    const s = subscribe({ conversationId: b });
    await s.started;
    const { db } = t.runtime.database;
    await addMessage(db, a, 'for a');
    await addMessage(db, b, 'for b');
    await s.waitFor((r) => r.length >= 1);
    await addMessage(db, b, 'for b again');
    await s.waitFor((r) => r.length >= 2);
    expect(s.received.every((r) => 'conversationId' in r.data && r.data.conversationId === b)).toBe(true);
    s.unsubscribe();
  });

  it('resumes after lastEventId: what happened while away is replayed, then live events follow', async () => {
    const first = subscribe({ conversationId: a });
    await first.started;
    const { db } = t.runtime.database;
    await addMessage(db, a, 'seen');
    await first.waitFor((r) => r.length >= 1);
    const lastSeen = first.received.at(-1)!.id;
    first.unsubscribe();

    const missed1 = await addMessage(db, a, 'missed one');
    const missed2 = await addMessage(db, a, 'missed two');
    await addMessage(db, b, 'other conversation');

    const resumed = subscribe({ conversationId: a, lastEventId: lastSeen });
    await resumed.waitFor((r) => r.length >= 2);
    const live = await addMessage(db, a, 'live again');
    await resumed.waitFor((r) => r.length >= 3);
    expect(
      resumed.received.map((r) => (r.data.type === 'message.created' ? r.data.messageId : null)),
    ).toEqual([missed1, missed2, live]);
    expect(Number(resumed.received[0]!.id)).toBeGreaterThan(Number(lastSeen));
    resumed.unsubscribe();
  });

  it('refuses a caller without a key (the stream carries the error, then ends)', async () => {
    const res = await fetch(
      `${baseUrl}/trpc/conversations.events?input=${encodeURIComponent('{"json":{}}')}`,
    );
    const body = await res.text();
    expect(body).toContain('event: serialized-error');
    expect(body).toContain('UNAUTHORIZED');
  });

  it('rejects a malformed lastEventId as BAD_REQUEST', async () => {
    const res = await fetch(
      `${baseUrl}/trpc/conversations.events?input=${encodeURIComponent('{"json":{"lastEventId":"x1"}}')}`,
      { headers: { authorization: `Bearer ${key}` } },
    );
    const body = await res.text();
    expect(body).toContain('event: serialized-error');
    expect(body).toContain('BAD_REQUEST');
  });
});

describe.skipIf(!onPostgres)('across processes (Postgres)', () => {
  let other: Runtime;
  beforeAll(async () => {
    // A second "process": its own runtime (pool, queue, hub) on the same database.
    const config = loadConfig({
      NODE_ENV: 'test',
      LOG_LEVEL: 'silent',
      DATA_DIR: 'memory://',
      BOOTSTRAP_ADMIN_KEY: 'false',
      DATABASE_URL: t.runtime.database.url,
    });
    other = await createRuntime({
      config,
      persona: loadPersona(config.personaPath),
      log: silentLogger,
      workers: false,
    });
  });
  afterAll(() => other?.close());

  it('a dashboard on this instance sees what another instance did (LISTEN/NOTIFY)', async () => {
    const s = subscribe({ conversationId: a });
    await s.started;
    await addMessage(other.database.db, a, 'written by the other process');
    await s.waitFor((r) => r.length >= 1);
    expect(s.received[0]!.data.type).toBe('message.created');
    s.unsubscribe();
  });

  it('delivers an event whose transaction commits after a later event was already delivered', async () => {
    const hub = createEventHub({ database: t.runtime.database, log: silentLogger, gapGraceMs: 60_000 });
    await hub.start();
    const abort = new AbortController();
    const got: number[] = [];
    const consuming = (async () => {
      for await (const e of hub.stream({ signal: abort.signal })) got.push(e.id);
    })();
    try {
      // Let the hub position itself at the log's end before the slow transaction takes its id.
      await new Promise((r) => setTimeout(r, 200));
      const slow = await t.runtime.database.sql.reserve();
      try {
        await slow`begin`;
        const [early] = await slow`insert into events (type, conversation_id, payload)
          values ('conversation.updated', ${a}, ${JSON.stringify({ type: 'conversation.updated', conversationId: a })}::jsonb)
          returning id`;
        await addMessage(t.runtime.database.db, a, 'committed first');
        await waitUntil(() => got.length >= 1);
        expect(got[0]).toBeGreaterThan(Number(early!.id));
        await slow`select pg_notify('wcb_events', ${String(early!.id)})`;
        await slow`commit`;
        await waitUntil(() => got.length >= 2);
        expect(got[1]).toBe(Number(early!.id));
      } finally {
        slow.release();
      }
    } finally {
      abort.abort();
      await hub.close();
      await consuming;
    }
  });
});

describe('shutdown', () => {
  it('closing the server ends open streams without hanging; the client tries to reconnect', async () => {
    const t2 = await createTestRuntime();
    const key2 = await t2.key('agent');
    const url2 = await listen(await t2.app());
    const s = subscribeEvents(url2, key2, {});
    try {
      await s.started;
      expect(t2.runtime.events.subscriberCount).toBe(1);
      await t2.close();
      expect(t2.runtime.events.subscriberCount).toBe(0);
      await waitUntil(() => s.states.includes('connecting'));
      expect(s.completed).toBe(false);
    } finally {
      s.unsubscribe();
    }
  });
});

async function waitUntil(cond: () => boolean, timeoutMs = 15_000) {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 25));
  }
}
