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
    expect(
      await count(sql`select count(*)::int as n from pgboss.job j join messages m on m.id = (j.data->>'messageId')::uuid
        join conversations v on v.id = m.conversation_id join contacts c on c.id = v.contact_id
        where j.name = 'pipeline.reply' and c.phone in (${phones})`),
    ).toBe(bodies.length);
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
});
