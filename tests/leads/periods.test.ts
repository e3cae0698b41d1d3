import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { QUEUE_LEADS_QUALIFY } from '../../server/db/queries/lead-qualifications';
import { type FakeOpenAI, startFakeOpenAI, structuredOutputName } from '../fakes/openai-server';
import { createTestRuntime, type TestRuntime } from '../helpers/runtime';
import { minutesAgo, seedConversation } from '../helpers/seed';
import { assessment, pendingJobs, qualificationsOf } from './support';

let openai: FakeOpenAI;
let t: TestRuntime;
beforeAll(async () => {
  openai = await startFakeOpenAI({
    responder: (body) => (structuredOutputName(body) ? { json: assessment() } : 'ok'),
    // Both runs below are inside the model call at the same time.
    delayMs: 200,
  });
  t = await createTestRuntime({
    OPENAI_API_KEY: openai.apiKey,
    OPENAI_BASE_URL: openai.url,
    LEAD_QUALIFY_QUIET_MINUTES: '30',
  });
});
afterAll(async () => {
  await t?.close();
  await openai?.close();
});

const db = () => t.runtime.database.db;

describe('one assessment per quiet period', () => {
  it('two runs of the same period at once store one assessment and one task', async () => {
    const { conversation, contact } = await seedConversation(db(), {
      messages: [{ direction: 'inbound', body: 'I want 20 chairs', at: minutesAgo(45) }],
    });
    const job = { data: { conversationId: conversation.id } };
    const outcomes = await Promise.all([
      t.runtime.leadQualification.runQualifyJob(job),
      t.runtime.leadQualification.runQualifyJob(job),
    ]);
    expect(outcomes.sort()).toEqual(['already-assessed', 'assessed']);
    expect(await qualificationsOf(db(), conversation.id)).toHaveLength(1);
    const [tasks] = await db().execute<{ n: number }>(
      sql`select count(*)::int as n from tasks where contact_id = ${contact.id} and status = 'open'`,
    );
    expect(tasks!.n).toBe(1);
    // A later run for the same period finds it done without asking the model.
    const asked = openai.requests.length;
    expect(await t.runtime.leadQualification.runQualifyJob(job)).toBe('already-assessed');
    expect(openai.requests.length).toBe(asked);
  });

  it('a period still going on is rescheduled to its end, once', async () => {
    const { conversation } = await seedConversation(db(), {
      messages: [{ direction: 'inbound', body: 'hello', at: minutesAgo(10) }],
    });
    const asked = openai.requests.length;
    const job = { data: { conversationId: conversation.id } };
    expect(await t.runtime.leadQualification.runQualifyJob(job)).toBe('rescheduled');
    expect(await t.runtime.leadQualification.runQualifyJob(job)).toBe('rescheduled');
    // The model was not asked.
    expect(openai.requests.length).toBe(asked);
    const waiting = await db().execute<{ due_in: number }>(sql`
      select extract(epoch from start_after - now())::float8 as due_in from pgboss.job
      where name = ${QUEUE_LEADS_QUALIFY} and data ->> 'conversationId' = ${conversation.id} and state = 'created'`);
    expect(waiting).toHaveLength(1);
    // About 20 minutes from now: 30 minutes after the customer's last message.
    expect(waiting[0]!.due_in).toBeGreaterThan(18 * 60);
    expect(waiting[0]!.due_in).toBeLessThan(21 * 60);
    expect(await pendingJobs(db(), QUEUE_LEADS_QUALIFY, { conversationId: conversation.id })).toHaveLength(1);
    expect(await qualificationsOf(db(), conversation.id)).toHaveLength(0);
  });

  it('stores a hostile answer cleaned: NUL and lone surrogates dropped, long texts shortened', async () => {
    const { conversation, contact } = await seedConversation(db(), {
      messages: [{ direction: 'inbound', body: 'hi', at: minutesAgo(45) }],
    });
    openai.setResponder(() => ({
      json: assessment({ intent: `x\u0000y\ud800z${'w'.repeat(5000)}`, summary: 'ok\u0000', score: 10 }),
    }));
    try {
      expect(
        await t.runtime.leadQualification.runQualifyJob({ data: { conversationId: conversation.id } }),
      ).toBe('assessed');
    } finally {
      openai.setResponder((body) => (structuredOutputName(body) ? { json: assessment() } : 'ok'));
    }
    const lead = await t.caller().leads.get({ contactId: contact.id });
    expect(lead.qualification?.intent.startsWith('xyzw')).toBe(true);
    expect(lead.qualification?.intent.length).toBeLessThanOrEqual(300);
    expect(lead.qualification?.summary).toBe('ok');
  });
});
