import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WEBHOOK_SECRET } from '../helpers/pipeline';
import { createTestRuntime, type TestRuntime } from '../helpers/runtime';

let t: TestRuntime;
beforeAll(async () => {
  t = await createTestRuntime({ WASENDER_WEBHOOK_SECRET: WEBHOOK_SECRET, REPLY_QUIET_MS: '600000' });
});
afterAll(() => t?.close());

async function snapshot() {
  const rows = await t.runtime.database.sql<{ n: number }[]>`
    select (select count(*) from messages)::int + (select count(*) from contacts)::int
      + (select count(*) from conversations)::int + (select count(*) from pgboss.job)::int as n`;
  return rows[0]!.n;
}

const post = async (payload: string, signature: string | null = WEBHOOK_SECRET) =>
  (await t.app()).inject({
    method: 'POST',
    url: '/webhook',
    headers: {
      'content-type': 'application/json',
      ...(signature === null ? {} : { 'x-webhook-signature': signature }),
    },
    payload,
  });

/** Payloads shaped like WaSender's, with any field replaced by anything. */
const messageLike = fc.record(
  {
    event: fc.oneof(
      fc.constantFrom(
        'messages.upsert',
        'messages.received',
        'messages.update',
        'message-receipt.update',
        'message.sent',
        'session.status',
      ),
      fc.string(),
    ),
    timestamp: fc.oneof(fc.integer(), fc.string(), fc.constant(null)),
    data: fc.oneof(
      fc.record(
        {
          messages: fc.oneof(
            fc.anything(),
            fc.record(
              {
                key: fc.record(
                  {
                    id: fc.oneof(fc.string(), fc.integer(), fc.constant(null)),
                    fromMe: fc.oneof(fc.boolean(), fc.string()),
                    remoteJid: fc.oneof(
                      fc.string(),
                      fc.constantFrom('x@g.us', 'status@broadcast', '1@lid', '14155550999@s.whatsapp.net'),
                    ),
                    cleanedSenderPn: fc.oneof(fc.string(), fc.constant('14155550999')),
                  },
                  { requiredKeys: [] },
                ),
                message: fc.anything(),
                messageTimestamp: fc.oneof(fc.integer(), fc.string(), fc.double()),
              },
              { requiredKeys: [] },
            ),
          ),
          update: fc.anything(),
          key: fc.anything(),
        },
        { requiredKeys: [] },
      ),
      fc.anything(),
    ),
  },
  { requiredKeys: [] },
);

describe('POST /webhook under generated input', () => {
  it('never answers 5xx, and a rejected body changes nothing', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.json(),
          messageLike.map((v) => JSON.stringify(v)),
          fc.string(),
        ),
        async (payload) => {
          const before = await snapshot();
          const res = await post(payload);
          expect(res.statusCode).toBeLessThan(500);
          if (res.statusCode >= 400) expect(await snapshot()).toBe(before);
        },
      ),
      { numRuns: 150 },
    );
  }, 120_000);

  it('without the right signature nothing is ever stored', async () => {
    await fc.assert(
      fc.asyncProperty(
        messageLike.map((v) => JSON.stringify(v)),
        fc.option(fc.string(), { nil: null }),
        async (payload, sig) => {
          fc.pre(sig !== WEBHOOK_SECRET);
          const before = await snapshot();
          const res = await post(payload, sig);
          expect(res.statusCode).toBe(401);
          expect(await snapshot()).toBe(before);
        },
      ),
      { numRuns: 60 },
    );
  }, 60_000);

  it('hostile strings, huge values and out-of-range times in any field: no 5xx, and the good message beside them is stored', async () => {
    const hostileChar = fc.constantFrom('\u0000', '\uD800', '\uDFFF', '\uD83D\uDE00', 'a', '9', '@', ' ');
    const hostile = fc.oneof(
      fc.string({ unit: 'binary', maxLength: 40 }),
      fc.array(hostileChar, { maxLength: 40 }).map((cs) => cs.join('')),
      fc.constantFrom('x'.repeat(70_000), '1'.repeat(300), `${'1'.repeat(30)}@lid`),
    );
    const hostileTime = fc.oneof(
      fc.constantFrom(
        1e300,
        -1,
        8.64e15 + 1,
        253402300800000,
        '99999999999999999999',
        Number.MAX_SAFE_INTEGER,
      ),
      fc.double(),
      hostile,
    );
    let n = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          id: hostile,
          remoteJid: fc.oneof(hostile, fc.constant('14155550999@s.whatsapp.net')),
          pushName: hostile,
          text: hostile,
          senderPn: hostile,
          ts: hostileTime,
          envelopeTs: hostileTime,
        }),
        async (f) => {
          const goodId = `GOOD-${++n}-${Date.now()}`;
          const good = {
            key: { id: goodId, fromMe: false, remoteJid: '14155550998@s.whatsapp.net' },
            message: { conversation: 'the good one' },
          };
          const bad = {
            key: {
              id: f.id,
              fromMe: false,
              remoteJid: f.remoteJid,
              cleanedSenderPn: f.senderPn,
              senderLid: f.senderPn,
            },
            pushName: f.pushName,
            messageTimestamp: f.ts,
            message: { conversation: f.text, extendedTextMessage: { text: f.text } },
          };
          const res = await post(
            JSON.stringify({
              event: 'messages.upsert',
              timestamp: f.envelopeTs,
              data: { messages: [bad, good] },
            }),
          );
          expect(res.statusCode).toBe(200);
          const body = res.json() as { stored: number; duplicates: number; deadLettered: number };
          expect(body.stored + body.duplicates + body.deadLettered).toBeGreaterThanOrEqual(1);
          const [row] = await t.runtime.database.sql<{ n: number }[]>`
            select count(*)::int as n from messages where provider_message_id = ${goodId}`;
          expect(row!.n).toBe(1);
        },
      ),
      { numRuns: 60 },
    );
  }, 120_000);

  it('status, receipt and session webhooks with hostile strings never answer 5xx', async () => {
    const hostile = fc.oneof(
      fc.string({ unit: 'binary', maxLength: 40 }),
      fc.constantFrom('a\u0000b', '\uD800', 'x'.repeat(70_000)),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('messages.update', 'message-receipt.update', 'message.sent', 'session.status'),
        hostile,
        hostile,
        async (event, id, text) => {
          const data =
            event === 'session.status'
              ? { status: text }
              : [
                  {
                    key: { id, remoteJid: text },
                    update: { status: 0, error: text },
                    msgId: text,
                    receipt: { type: text },
                  },
                ];
          const res = await post(JSON.stringify({ event, data }));
          expect(res.statusCode).toBeLessThan(500);
        },
      ),
      { numRuns: 60 },
    );
  }, 120_000);
});
