import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newId, textWebhook, WEBHOOK_SECRET } from '../helpers/pipeline';
import { createTestRuntime, type TestRuntime } from '../helpers/runtime';

// Webhooks arriving together share statements (server/pipeline/inbound-writer.ts). These tests post
// many at once, with no workers running, and check that what is stored is exactly what one webhook
// at a time would have stored.
let t: TestRuntime;
let post: (body: unknown) => Promise<{ status: number; json: () => Record<string, unknown> }>;
beforeAll(async () => {
  t = await createTestRuntime({ WASENDER_WEBHOOK_SECRET: WEBHOOK_SECRET, REPLY_QUIET_MS: '0' });
  const app = await t.app();
  post = async (body) => {
    const res = await app.inject({
      method: 'POST',
      url: '/webhook',
      headers: { 'content-type': 'application/json', 'x-webhook-signature': WEBHOOK_SECRET },
      payload: JSON.stringify(body),
    });
    return { status: res.statusCode, json: () => res.json() };
  };
});
afterAll(() => t?.close());

const count = async (query: ReturnType<typeof sql>) =>
  Number([...(await t.runtime.database.db.execute<{ n: number }>(query))][0]!.n);

describe('inbound messages written together', () => {
  it('stores every message once, in order per customer, with its event and reply job, when many arrive at once', async () => {
    const customers = Array.from({ length: 24 }, (_, i) => `1415555${String(3000 + i)}`);
    const bodies = customers.flatMap((phone) =>
      [1, 2, 3].map((n) =>
        textWebhook({ phone, id: `W${phone}-${n}-${newId()}`, text: `${phone} says ${n}` }),
      ),
    );
    // Every message is delivered twice, all at the same moment: the copies must change nothing.
    const responses = await Promise.all([...bodies, ...bodies].map((b) => post(b)));
    expect(responses.map((r) => r.status).every((s) => s === 200)).toBe(true);
    const outcomes = responses.map((r) => r.json() as { stored: number; duplicates: number });
    expect(outcomes.reduce((n, o) => n + o.stored, 0)).toBe(bodies.length);
    expect(outcomes.reduce((n, o) => n + o.duplicates, 0)).toBe(bodies.length);

    const phones = sql.join(
      customers.map((p) => sql`${`+${p}`}`),
      sql`, `,
    );
    expect(await count(sql`select count(*)::int as n from contacts where phone in (${phones})`)).toBe(24);
    const conversations = [
      ...(await t.runtime.database.db.execute<{
        phone: string;
        unread: number;
        preview: string;
        n: number;
      }>(sql`
        select c.phone, v.unread_count as unread, v.last_message_preview as preview,
          (select count(*)::int from messages m where m.conversation_id = v.id) as n
        from conversations v join contacts c on c.id = v.contact_id where c.phone in (${phones})`)),
    ];
    expect(conversations).toHaveLength(24);
    for (const c of conversations) expect(c).toMatchObject({ unread: 3, n: 3 });
    expect(
      await count(sql`select count(*)::int as n from contact_identities i join contacts c on c.id = i.contact_id
        where c.phone in (${phones}) and i.kind = 'phone'`),
    ).toBe(24);
    expect(
      await count(sql`select count(*)::int as n from events e join messages m on m.id = (e.payload->>'messageId')::uuid
        join conversations v on v.id = m.conversation_id join contacts c on c.id = v.contact_id
        where e.type = 'message.created' and c.phone in (${phones})`),
    ).toBe(bodies.length);
    // A statement enqueues one reply job per conversation, for its newest message there: every
    // conversation's newest message has one, and no message has two.
    const jobs =
      await count(sql`select count(*)::int as n from pgboss.job j join messages m on m.id = (j.data->>'messageId')::uuid
        join conversations v on v.id = m.conversation_id join contacts c on c.id = v.contact_id
        where j.name = 'pipeline.reply' and c.phone in (${phones})`);
    expect(jobs).toBeGreaterThanOrEqual(24);
    expect(jobs).toBeLessThanOrEqual(bodies.length);
    expect(
      await count(sql`select count(distinct j.data->>'messageId')::int as n from pgboss.job j
        where j.name = 'pipeline.reply' and j.data->>'messageId' in (
          select (select m.id::text from messages m where m.conversation_id = v.id order by m.created_at desc, m.id desc limit 1)
          from conversations v join contacts c on c.id = v.contact_id where c.phone in (${phones}))`),
    ).toBe(24);
    expect(
      await count(sql`select count(*)::int as n from (select j.data->>'messageId' from pgboss.job j
        where j.name = 'pipeline.reply' group by 1 having count(*) > 1) d`),
    ).toBe(0);
  });

  it('keeps the order of one customer’s burst, and counts each message as unread once', async () => {
    const phone = '14155553100';
    const texts = Array.from({ length: 8 }, (_, i) => `part ${i + 1}`);
    // Sent one after another without waiting: they overlap on the server.
    const pending: Array<Promise<unknown>> = [];
    for (const text of texts) {
      pending.push(post(textWebhook({ phone, text })));
      await new Promise((r) => setImmediate(r));
    }
    await Promise.all(pending);
    const rows = [
      ...(await t.runtime.database.db.execute<{ body: string }>(sql`
        select m.body from messages m join conversations v on v.id = m.conversation_id
        join contacts c on c.id = v.contact_id where c.phone = ${`+${phone}`}
        order by m.created_at, m.id`)),
    ];
    expect(rows.map((r) => r.body)).toEqual(texts);
    expect(
      await count(sql`select v.unread_count as n from conversations v join contacts c on c.id = v.contact_id
        where c.phone = ${`+${phone}`}`),
    ).toBe(8);
  });

  it('a message the database refuses goes to the dead letters alone; the others arriving with it are stored', async () => {
    // A trigger standing in for any failure the database may raise for one message.
    await t.runtime.database.sql.unsafe(`
      create function refuse_poison() returns trigger language plpgsql as $$
      begin
        if new.body = 'poison' then raise exception 'refused for the test'; end if;
        return new;
      end $$;
      create trigger refuse_poison before insert on messages for each row execute function refuse_poison();`);
    const good = Array.from({ length: 6 }, (_, i) => textWebhook({ phone: `1415555320${i}`, text: 'fine' }));
    const bad = textWebhook({ phone: '14155553299', text: 'poison' });
    const responses = await Promise.all([bad, ...good].map((b) => post(b)));
    expect(responses.map((r) => r.status)).toEqual([bad, ...good].map(() => 200));
    expect(responses[0]!.json()).toMatchObject({ stored: 0, deadLettered: 1 });
    expect(
      await count(sql`select count(*)::int as n from messages m join conversations v on v.id = m.conversation_id
        join contacts c on c.id = v.contact_id where c.phone like '+1415555320_'`),
    ).toBe(6);
    expect(await count(sql`select count(*)::int as n from contacts where phone = '+14155553299'`)).toBe(0);
    const [letter] = [
      ...(await t.runtime.database.db.execute<{ reason: string; raw: { data: { message: unknown } } }>(sql`
        select reason, raw from dead_letters where provider_message_id = ${bad.data.messages.key.id as string}`)),
    ];
    expect(letter?.reason).toMatch(/refused for the test/);
    expect(letter?.raw.data.message).toEqual({ conversation: 'poison' });

    // The same webhook posted again while its dead letter is open adds no second one.
    expect((await post(bad)).json()).toMatchObject({ deadLettered: 1 });
    expect(
      await count(sql`select count(*)::int as n from dead_letters
        where provider_message_id = ${bad.data.messages.key.id as string}`),
    ).toBe(1);
    await t.runtime.database.sql.unsafe('drop trigger refuse_poison on messages');
  });

  it('a webhook with 5,000 messages is stored in batches and answered within the request timeout', async () => {
    const app = await t.app();
    await app.listen({ host: '127.0.0.1', port: 0 });
    const addr = app.server.address();
    const url = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}/webhook`;
    // 4,900 customers with one message each and one customer with 100: every message in one webhook.
    const entries = Array.from({ length: 5000 }, (_, i) => {
      const phone = i < 4900 ? `4930${String(1_000_000 + i)}` : '4930999999';
      return textWebhook({ phone, id: `BULK-${i}-${newId()}`, text: `bulk ${i}` }).data.messages;
    });
    // Posted over real HTTP: the server's REQUEST_TIMEOUT_MS (30 s by default) would cut a slower answer.
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-webhook-signature': WEBHOOK_SECRET },
      body: JSON.stringify({ event: 'messages.upsert', data: { messages: entries } }),
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ stored: 5000, duplicates: 0, deadLettered: 0 });
    expect(await count(sql`select count(*)::int as n from messages where body like 'bulk %'`)).toBe(5000);
    const burst = [
      ...(await t.runtime.database.db.execute<{ body: string }>(sql`
        select m.body from messages m join conversations v on v.id = m.conversation_id
        join contacts c on c.id = v.contact_id where c.phone = '+4930999999' order by m.created_at, m.id`)),
    ];
    expect(burst.map((r) => r.body)).toEqual(Array.from({ length: 100 }, (_, i) => `bulk ${4900 + i}`));
  }, 120_000);

  it('a webhook with 3,000 messages from one customer is answered within the request timeout, stored in order', async () => {
    const app = await t.app();
    if (!app.server.listening) await app.listen({ host: '127.0.0.1', port: 0 });
    const addr = app.server.address();
    const url = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}/webhook`;
    const phone = '4930888888';
    const entries = Array.from(
      { length: 3000 },
      (_, i) => textWebhook({ phone, id: `ONE-${i}-${newId()}`, text: `one ${i}` }).data.messages,
    );
    // Over real HTTP, with REQUEST_TIMEOUT_MS at its default (30 s): one statement per message of
    // one customer would not be answered in time.
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-webhook-signature': WEBHOOK_SECRET },
      body: JSON.stringify({ event: 'messages.upsert', data: { messages: entries } }),
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ stored: 3000, duplicates: 0, deadLettered: 0 });
    const stored = [
      ...(await t.runtime.database.db.execute<{ body: string }>(sql`
        select m.body from messages m join conversations v on v.id = m.conversation_id
        join contacts c on c.id = v.contact_id where c.phone = '+4930888888' order by m.created_at, m.id`)),
    ];
    expect(stored.map((r) => r.body)).toEqual(entries.map((_, i) => `one ${i}`));
    const [conversation] = [
      ...(await t.runtime.database.db.execute<{
        unread: number;
        preview: string;
        last: string;
        newest: string;
      }>(sql`
        select v.unread_count as unread, v.last_message_preview as preview,
          v.last_message_at::text as last, (select max(m.created_at) from messages m where m.conversation_id = v.id)::text as newest
        from conversations v join contacts c on c.id = v.contact_id where c.phone = '+4930888888'`)),
    ];
    expect(conversation).toMatchObject({ unread: 3000, preview: 'one 2999' });
    expect(new Date(conversation!.last).getTime()).toBe(new Date(conversation!.newest).getTime());
    // Stored in batches, each enqueueing one reply job for its newest message: far fewer jobs than
    // messages (one statement per message would enqueue 3,000).
    const jobs = await count(sql`select count(*)::int as n from pgboss.job j
      join messages m on m.id = (j.data->>'messageId')::uuid where j.name = 'pipeline.reply' and m.body like 'one %'`);
    expect(jobs).toBeLessThan(300);
    // The newest message has its reply job (the one that answers the whole burst).
    expect(
      await count(sql`select count(*)::int as n from pgboss.job j join messages m on m.id = (j.data->>'messageId')::uuid
        where j.name = 'pipeline.reply' and m.body = 'one 2999'`),
    ).toBe(1);
  }, 180_000);
});
