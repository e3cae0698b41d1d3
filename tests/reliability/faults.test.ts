import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lastUserText } from '../fakes/openai-server';
import { type PipelineHarness, startPipeline, textWebhook } from '../helpers/pipeline';
import {
  deliverAll,
  describeUnfinished,
  explainStuck,
  handoffTasksByPhone,
  type Inbound,
  inboundBurst,
  outboundByPhone,
  waitForSettled,
} from '../helpers/reliability';

const AI_MAX_ATTEMPTS = 3;
const SEND_MAX_ATTEMPTS = 3;

let h: PipelineHarness;
let area = 200;

beforeAll(async () => {
  if (!process.env.DATABASE_URL) return;
  h = await startPipeline({
    REPLY_QUIET_MS: '0',
    AI_MAX_ATTEMPTS: String(AI_MAX_ATTEMPTS),
    SEND_MAX_ATTEMPTS: String(SEND_MAX_ATTEMPTS),
    OPENAI_TIMEOUT_MS: '1000',
    WASENDER_TIMEOUT_MS: '1000',
    REPLY_JOB_TIMEOUT_SECONDS: '10',
    SEND_JOB_TIMEOUT_SECONDS: '8',
    JOB_MAINTENANCE_SECONDS: '1',
    SEND_RATE_PER_MINUTE: '6000',
    WEBHOOK_RATE_LIMIT_PER_MINUTE: '0',
  });
});
afterAll(async () => {
  await h?.closeAll();
});

/** Posts messages from `n` new customers and waits until the pipeline has settled; asserts it did. */
async function run(n: number): Promise<Inbound[]> {
  area += 1; // a fresh area code: customers of different scenarios never mix
  const burst = inboundBurst(n, String(area), 'fault');
  await deliverAll(burst, () => h.baseUrl, 10);
  expect(burst.map((m) => m.attempts)).toEqual(burst.map(() => [200]));
  const sql = h.runtime.database.sql;
  const report = await waitForSettled(sql, 60_000);
  expect(report, `${describeUnfinished(report)}\n${await explainStuck(sql, report)}`).toEqual({
    jobs: [],
    messages: [],
    unanswered: [],
  });
  return burst;
}

const modelCalls = (m: Inbound) => h.openai.requests.filter((r) => lastUserText(r.body) === m.text).length;
const gatewayCalls = (m: Inbound) =>
  h.wasender.requests.filter((r) => (r.body as { to?: string }).to === `+${m.phone}`).length;
const delivered = (m: Inbound) => h.wasender.sent.filter((s) => s.to === `+${m.phone}`).map((s) => s.text);

async function sendJobsOf(m: Inbound) {
  return h.runtime.database.sql<Array<{ state: string; retryCount: number }>>`
    select j.state::text, j.retry_count as "retryCount"
    from pgboss.job j
    join messages msg on msg.id::text = j.data->>'messageId'
    join conversations c on c.id = msg.conversation_id
    join contacts ct on ct.id = c.contact_id
    where j.name = 'pipeline.send' and ct.phone = ${`+${m.phone}`}`;
}

async function ownerOf(m: Inbound) {
  const [row] = await h.runtime.database.sql<[{ owner: string }]>`
    select c.owner from conversations c join contacts ct on ct.id = c.contact_id
    where ct.phone = ${`+${m.phone}`}`;
  return row?.owner;
}

describe.skipIf(!process.env.DATABASE_URL)('OpenAI and gateway faults (real Postgres)', () => {
  it('the model hangs past its timeout, then drops the connection, then answers: one normal reply', async () => {
    h.openai.script({ hang: true }, { reset: true });
    const [m] = await run(1);
    expect(modelCalls(m!)).toBe(3);
    expect(delivered(m!)).toEqual([`Echo: ${m!.text}`]);
    expect(await ownerOf(m!)).toBe('bot');
    expect((await handoffTasksByPhone(h.runtime.database.sql)).get(`+${m!.phone}`)).toBeUndefined();
  }, 90_000);

  it('the model fails every attempt (500, 429, hang): the fallback message and a person, after exactly AI_MAX_ATTEMPTS calls', async () => {
    h.openai.script({ status: 500 }, { status: 429, retryAfter: 0 }, { hang: true });
    const [m] = await run(1);
    expect(modelCalls(m!)).toBe(AI_MAX_ATTEMPTS);
    expect(delivered(m!)).toEqual([h.runtime.persona.fallbackMessage]);
    expect(await ownerOf(m!)).toBe('human');
    const tasks = (await handoffTasksByPhone(h.runtime.database.sql)).get(`+${m!.phone}`);
    expect(tasks).toHaveLength(1);
    expect(tasks![0]).toContain('could not reply');
  }, 90_000);

  it('a 429 storm from the model: every conversation is retried and answered once', async () => {
    const n = 8; // the reply concurrency: every first attempt meets the storm
    h.openai.script(...Array.from({ length: n }, () => ({ status: 429, retryAfter: 1 })));
    const before = h.openai.requests.length;
    const burst = await run(n);
    expect(h.openai.requests.length - before).toBe(2 * n);
    for (const m of burst) {
      expect(modelCalls(m)).toBeGreaterThanOrEqual(2);
      expect(modelCalls(m)).toBeLessThanOrEqual(AI_MAX_ATTEMPTS);
      expect(delivered(m)).toEqual([`Echo: ${m.text}`]);
    }
  }, 90_000);

  it('the gateway answers 500, then 502, then accepts: sent once, within SEND_MAX_ATTEMPTS', async () => {
    h.wasender.script({ status: 500 }, { status: 502 });
    const [m] = await run(1);
    expect(gatewayCalls(m!)).toBe(3);
    expect(delivered(m!)).toEqual([`Echo: ${m!.text}`]);
    expect(await sendJobsOf(m!)).toEqual([{ state: 'completed', retryCount: 2 }]);
    const rows = (await outboundByPhone(h.runtime.database.sql)).get(`+${m!.phone}`);
    expect(rows?.map((r) => r.status)).toEqual(['sent']);
  }, 90_000);

  it('the gateway cuts the connection mid-request: not sent again (it may have arrived), a person is asked, and WhatsApp’s echo marks it sent', async () => {
    h.wasender.script({ reset: true });
    const [m] = await run(1);
    expect(gatewayCalls(m!)).toBe(1);
    const sql = h.runtime.database.sql;
    const rows = (await outboundByPhone(sql)).get(`+${m!.phone}`);
    expect(rows?.map((r) => r.status)).toEqual(['failed']);
    expect(rows![0]!.error).toMatch(/may have arrived/);
    expect((await handoffTasksByPhone(sql)).get(`+${m!.phone}`)).toHaveLength(1);
    // It had reached WhatsApp after all: the echo of our own message arrives.
    const echo = await h.post(textWebhook({ phone: m!.phone, text: `Echo: ${m!.text}`, fromMe: true }));
    expect(echo.status).toBe(200);
    const after = (await outboundByPhone(sql)).get(`+${m!.phone}`);
    expect(after?.map((r) => r.status)).toEqual(['sent']);
  }, 90_000);

  it('the gateway hangs: after one attempt the message is failed with the reason, not sent again, and a person is asked', async () => {
    h.wasender.script({ hang: true });
    const [m] = await run(1);
    expect(gatewayCalls(m!)).toBe(1);
    expect(delivered(m!)).toEqual([]);
    const rows = (await outboundByPhone(h.runtime.database.sql)).get(`+${m!.phone}`);
    expect(rows?.map((r) => r.status)).toEqual(['failed']);
    expect(rows![0]!.error).toMatch(/timed out.*may have arrived/);
    expect((await handoffTasksByPhone(h.runtime.database.sql)).get(`+${m!.phone}`)).toHaveLength(1);
    expect(await sendJobsOf(m!)).toEqual([{ state: 'completed', retryCount: 0 }]);
  }, 90_000);

  it('a 429 storm from the gateway: sends wait for retry_after, nobody gets a message twice, nothing fails', async () => {
    h.wasender.setRatePerSecond(2);
    const rejectedBefore = h.wasender.rejected.length;
    try {
      const burst = await run(10);
      expect(h.wasender.rejected.length).toBeGreaterThan(rejectedBefore);
      const rows = await outboundByPhone(h.runtime.database.sql);
      for (const m of burst) {
        expect(delivered(m)).toEqual([`Echo: ${m.text}`]);
        expect(rows.get(`+${m.phone}`)?.map((r) => r.status)).toEqual(['sent']);
      }
    } finally {
      h.wasender.setRatePerSecond(null);
    }
  }, 90_000);
});
