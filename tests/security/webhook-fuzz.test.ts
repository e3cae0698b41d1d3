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
});
