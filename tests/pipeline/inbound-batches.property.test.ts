import { sql } from 'drizzle-orm';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { QUEUE_REPLY } from '../../server/conversation/deps';
import { type InboundToStore, storeInboundMessages } from '../../server/db/queries/messages';
import { createInboundWriter } from '../../server/pipeline/inbound-writer';
import { newId } from '../helpers/pipeline';
import { createTestRuntime, type TestRuntime } from '../helpers/runtime';

// The inbound writer shares statements between messages, including several of one customer in one
// statement. Whatever the interleaving of customers, the batch size and the moments messages arrive,
// what is stored must be what one message at a time would have stored: each customer's messages in
// the order given, each counted unread once, the newest as the conversation's last message, a
// duplicate delivery changing nothing, and a reply job for each conversation's newest message.
let t: TestRuntime;
beforeAll(async () => {
  t = await createTestRuntime({ REPLY_QUIET_MS: '0' });
});
afterAll(() => t?.close());

let run = 0;

interface Step {
  customer: number;
  /** Delivers again the message of this earlier step (a duplicate) instead of a new one. */
  again: number | null;
  /** Lets the statements running now go on before this message comes. */
  pause: boolean;
}

const scenario = fc.record({
  customers: fc.integer({ min: 1, max: 5 }),
  maxBatch: fc.integer({ min: 1, max: 12 }),
  maxInFlight: fc.integer({ min: 1, max: 4 }),
  steps: fc.array(
    fc.record({
      customer: fc.nat(),
      again: fc.option(fc.nat(), { freq: 5 }),
      pause: fc.boolean(),
    }),
    { minLength: 1, maxLength: 40 },
  ),
});

describe('inbound messages in shared statements (property)', () => {
  it('keeps each customer’s order and counts whatever the interleaving and batching', async () => {
    await fc.assert(
      fc.asyncProperty(scenario, async ({ customers, maxBatch, maxInFlight, steps: raw }) => {
        run++;
        const db = t.runtime.database.db;
        const writer = createInboundWriter(db, QUEUE_REPLY, { maxInFlight, maxBatch });
        const phones = Array.from(
          { length: customers },
          (_, c) => `+4940${String(run).padStart(5, '0')}${String(c).padStart(2, '0')}`,
        );
        const steps: Step[] = raw.map((s, i) => ({
          customer: s.customer % customers,
          again: s.again !== null && i > 0 ? s.again % i : null,
          pause: s.pause,
        }));
        // The message each step delivers (a duplicate repeats an earlier step's message).
        const messages: InboundToStore[] = [];
        steps.forEach((s, i) => {
          if (s.again !== null) {
            messages.push(messages[s.again]!);
            return;
          }
          const phone = phones[s.customer]!;
          messages.push({
            phone,
            lid: null,
            pushName: `name ${i}`,
            providerMessageId: `P-${newId()}`,
            type: 'text',
            body: `${phone} #${i}`,
            preview: `${phone} #${i}`,
            replyQuietMs: 0,
          });
        });
        const pending = [];
        for (let i = 0; i < steps.length; i++) {
          pending.push(writer.store(messages[i]!));
          if (steps[i]!.pause) await new Promise((r) => setImmediate(r));
        }
        const results = await Promise.all(pending);

        // Each message is stored once: by its first delivery, or by a later one when the first was
        // still waiting (never both).
        const firsts = new Set<string>();
        results.forEach((r, i) => {
          const id = messages[i]!.providerMessageId;
          if (r.kind === 'stored') {
            expect(firsts.has(id)).toBe(false);
            firsts.add(id);
          } else expect(r.kind).toBe('duplicate');
        });
        const unique = [...new Map(messages.map((m) => [m.providerMessageId, m])).values()];
        expect(firsts.size).toBe(unique.length);

        await expectStored(phones, unique);
      }),
      { numRuns: 40 },
    );
  }, 240_000);

  it('one statement with many messages of one customer stores them as one at a time would', async () => {
    const batches = fc.array(fc.array(fc.nat(), { minLength: 1, maxLength: 30 }), {
      minLength: 1,
      maxLength: 4,
    });
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 4 }), batches, async (customers, raw) => {
        run++;
        const phones = Array.from(
          { length: customers },
          (_, c) => `+4941${String(run).padStart(5, '0')}${String(c).padStart(2, '0')}`,
        );
        const all: InboundToStore[] = [];
        for (const batch of raw) {
          const messages = batch.map((n, i): InboundToStore => {
            const phone = phones[n % customers]!;
            const body = `${phone} #${all.length + i}`;
            return {
              phone,
              lid: null,
              pushName: null,
              providerMessageId: `S-${newId()}`,
              type: 'text',
              body,
              preview: body,
              replyQuietMs: 0,
            };
          });
          const results = await storeInboundMessages(t.runtime.database.db, QUEUE_REPLY, messages);
          expect(results.map((r) => r.kind)).toEqual(messages.map(() => 'stored'));
          // The same batch again (a duplicate delivery) changes nothing.
          const again = await storeInboundMessages(t.runtime.database.db, QUEUE_REPLY, messages);
          expect(again.map((r) => r.kind)).toEqual(messages.map(() => 'duplicate'));
          all.push(...messages);
        }
        await expectStored(phones, all);
      }),
      { numRuns: 40 },
    );
  }, 240_000);
});

/** Each customer's messages stored in the order given, with the conversation's counts and reply job. */
async function expectStored(phones: string[], unique: InboundToStore[]) {
  const db = t.runtime.database.db;
  for (const phone of phones) {
    const expected = unique.filter((m) => m.phone === phone).map((m) => m.body);
    const stored = [
      ...(await db.execute<{ body: string; created_at: string }>(sql`
              select m.body, m.created_at::text from messages m join conversations v on v.id = m.conversation_id
              join contacts c on c.id = v.contact_id where c.phone = ${phone} order by m.created_at, m.id`)),
    ];
    expect(stored.map((r) => r.body)).toEqual(expected);
    // Every message has a time of its own, so the order does not rest on ids.
    expect(new Set(stored.map((r) => new Date(r.created_at).getTime())).size).toBe(stored.length);
    const [conversation] = [
      ...(await db.execute<{
        unread: number;
        preview: string | null;
        last: string | null;
        newest: string | null;
        events: number;
        newest_jobs: number;
        jobs: number;
      }>(sql`
              select v.unread_count as unread, v.last_message_preview as preview, v.last_message_at::text as last,
                (select max(m.created_at) from messages m where m.conversation_id = v.id)::text as newest,
                (select count(*)::int from events e where e.type = 'message.created' and e.conversation_id = v.id) as events,
                (select count(*)::int from pgboss.job j where j.name = ${QUEUE_REPLY} and j.data->>'messageId' = (
                  select m.id::text from messages m where m.conversation_id = v.id
                  order by m.created_at desc, m.id desc limit 1)) as newest_jobs,
                (select count(*)::int from pgboss.job j where j.name = ${QUEUE_REPLY}
                  and j.data->>'conversationId' = v.id::text) as jobs
              from conversations v join contacts c on c.id = v.contact_id where c.phone = ${phone}`)),
    ];
    if (!expected.length) {
      expect(conversation).toBeUndefined();
      continue;
    }
    expect(conversation).toMatchObject({
      unread: expected.length,
      preview: expected.at(-1),
      events: expected.length,
      newest_jobs: 1,
    });
    expect(conversation!.jobs).toBeLessThanOrEqual(expected.length);
    expect(new Date(conversation!.last!).getTime()).toBe(new Date(conversation!.newest!).getTime());
  }
}
