import { and, eq, sql } from 'drizzle-orm';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { activities, contacts, tasks } from '../../drizzle';
import { QUEUE_REPLY } from '../../server/conversation/deps';
import { QUEUE_LEADS_QUALIFY, QUEUE_LEADS_SCORE } from '../../server/db/queries/lead-qualifications';
import { type FakeOpenAIReply, lastUserText, structuredOutputName } from '../fakes/openai-server';
import {
  conversationByPhone,
  type PipelineHarness,
  sendsTo,
  startPipeline,
  textWebhook,
} from '../helpers/pipeline';
import { createTestRuntime } from '../helpers/runtime';
import { seedConversation } from '../helpers/seed';
import { assessment, pendingJobs, qualificationsOf, until } from './support';

let h: PipelineHarness;
/** What the fake model answers to assessment requests (replies echo). */
let assess: () => FakeOpenAIReply;

beforeAll(async () => {
  h = await startPipeline({
    // 0.6 s of quiet ends a period here.
    LEAD_QUALIFY_QUIET_MINUTES: '0.01',
    LEAD_QUALIFY_TASK_SCORE: '70',
    LEAD_QUALIFY_MODEL: 'gpt-4o-mini',
    LEAD_RESCORE_DELAY_SECONDS: '0',
  });
});
afterAll(() => h?.closeAll());
beforeEach(() => {
  assess = () => ({ json: assessment() });
  h.openai.setResponder((body) =>
    structuredOutputName(body) === 'lead_assessment' ? assess() : `Echo: ${lastUserText(body)}`,
  );
});

const db = () => h.runtime.database.db;
const assessRequests = () =>
  h.openai.requests.filter((r) => structuredOutputName(r.body) === 'lead_assessment');

/** Waits until nothing about this conversation is left to run (replies, assessments, rescores). */
async function settled(conversationId: string, contactId: string) {
  await until(async () => {
    const left = [
      ...(await pendingJobs(db(), QUEUE_REPLY, { conversationId })),
      ...(await pendingJobs(db(), QUEUE_LEADS_QUALIFY, { conversationId })),
      ...(await pendingJobs(db(), QUEUE_LEADS_SCORE, { contactId })),
    ];
    return left.length === 0;
  });
}

async function openQualificationTasks(contactId: string) {
  return db()
    .select({ id: tasks.id })
    .from(tasks)
    .where(and(eq(tasks.contactId, contactId), eq(tasks.status, 'open'), eq(tasks.createdBy, 'system')));
}

describe('lead qualification after a quiet conversation', () => {
  it('stores one assessment per quiet period, shows it on the lead and the contact card, and creates one sales task', async () => {
    const phone = '14155550911';
    const before = assessRequests().length;
    // A burst in one period.
    for (const text of ['Hi', 'I need a quote', 'for 20 chairs', 'this month please'])
      await h.post(textWebhook({ phone, text }));
    await sendsTo(h, phone, 1);
    const conv = await conversationByPhone(h, phone);
    const [contact] = await db()
      .select()
      .from(contacts)
      .where(eq(contacts.phone, `+${phone}`));
    const contactId = contact!.id;

    const [first] = await until(async () => {
      const rows = await qualificationsOf(db(), conv.id);
      return rows.length > 0 && rows;
    });
    await settled(conv.id, contactId);
    // Many messages in one period: one assessment, one model call.
    expect(await qualificationsOf(db(), conv.id)).toHaveLength(1);
    expect(assessRequests().length - before).toBe(1);
    expect(first!.model).toBe('gpt-4o-mini');
    expect(first!.score).toBe(82);

    // The model read the conversation, and was asked for the schema derived from the zod contract.
    const request = assessRequests().at(-1)!.body;
    expect(JSON.stringify(request.messages)).toContain('for 20 chairs');
    const format = request.response_format as {
      json_schema: { strict: boolean; schema: { required: string[] } };
    };
    expect(format.json_schema.strict).toBe(true);
    expect(format.json_schema.schema.required).toEqual(
      expect.arrayContaining([
        'intent',
        'need',
        'budgetSignal',
        'timeline',
        'decisionRole',
        'score',
        'reasons',
        'summary',
      ]),
    );

    const lead = await h.caller().leads.get({ contactId });
    expect(lead.qualification).toMatchObject({
      id: first!.id,
      conversationId: conv.id,
      score: 82,
      intent: 'buy 20 office chairs',
      budgetSignal: 'medium',
      timeline: 'this_month',
      decisionRole: 'decision_maker',
      reasons: ['asks for a quote', 'has a date'],
      model: 'gpt-4o-mini',
    });
    expect(lead.qualification?.assessedAt).toBeInstanceOf(Date);
    // The stored score already counts the assessment (no leads.rescore called).
    expect(lead.scoreBreakdown.find((b) => b.rule === 'qualification')?.points).toBe(16);
    expect(lead.leadScore).toBe(lead.scoreBreakdown.reduce((n, b) => n + b.points, 0));

    const card = await h.caller().crm.contacts.get({ id: contactId });
    expect(card.qualification?.id).toBe(first!.id);
    expect(card.recentActivities.some((a) => a.type === 'lead_qualified')).toBe(true);

    // Above the threshold: one sales task, linked to the assessment.
    const open = await openQualificationTasks(contactId);
    expect(open).toHaveLength(1);
    expect(lead.qualification?.taskId).toBe(open[0]!.id);
    expect(card.openTasks.map((t) => t.id)).toContain(open[0]!.id);

    // A new customer message starts a new period: a second assessment, but no second open task.
    assess = () => ({ json: assessment({ score: 90, intent: 'order now' }) });
    await h.post(textWebhook({ phone, text: 'can you deliver on Friday?' }));
    await until(async () => (await qualificationsOf(db(), conv.id)).length === 2);
    await settled(conv.id, contactId);
    const rows = await qualificationsOf(db(), conv.id);
    expect(rows).toHaveLength(2);
    expect(rows[1]!.score).toBe(90);
    expect(rows[1]!.taskId).toBeNull();
    expect(await openQualificationTasks(contactId)).toHaveLength(1);
    expect((await h.caller().leads.get({ contactId })).qualification?.score).toBe(90);

    // Once the task is done, the next high assessment gets a new one.
    await h.caller().crm.tasks.complete({ id: open[0]!.id });
    await h.post(textWebhook({ phone, text: 'and 4 desks' }));
    await until(async () => (await qualificationsOf(db(), conv.id)).length === 3);
    await settled(conv.id, contactId);
    const third = (await qualificationsOf(db(), conv.id))[2]!;
    expect(third.taskId).not.toBeNull();
    expect(await openQualificationTasks(contactId)).toHaveLength(1);
  });

  it('creates no task below the threshold', async () => {
    const phone = '14155550912';
    assess = () => ({ json: assessment({ score: 40 }) });
    await h.post(textWebhook({ phone, text: 'just looking' }));
    const conv = await until(async () => (await conversationByPhone(h, phone)) ?? false);
    await until(async () => (await qualificationsOf(db(), conv.id)).length === 1);
    const [row] = await qualificationsOf(db(), conv.id);
    expect(row!.taskId).toBeNull();
    expect(await openQualificationTasks(row!.contactId)).toHaveLength(0);
  });

  it.each([
    ['text that is not JSON', '14155550921', (): FakeOpenAIReply => 'Sure! The lead looks great.'],
    [
      'JSON that breaks the schema',
      '14155550922',
      (): FakeOpenAIReply => ({ json: { ...assessment(), score: 150 } }),
    ],
    ['JSON missing fields', '14155550923', (): FakeOpenAIReply => ({ json: { intent: 'buy' } })],
  ])('stores nothing when the model answers %s, and retries later', async (_, phone, answer) => {
    assess = answer;
    const before = assessRequests().length;
    await h.post(textWebhook({ phone, text: 'I need a quote' }));
    await sendsTo(h, phone, 1);
    const conv = await conversationByPhone(h, phone);
    // The attempt failed and waits for its retry (the queue's backoff).
    const [job] = await until(async () => {
      const jobs = await pendingJobs(db(), QUEUE_LEADS_QUALIFY, { conversationId: conv.id });
      return jobs.some((j) => j.state === 'retry') && jobs;
    });
    expect(JSON.stringify(job!.output)).toMatch(/JSON|schema/);
    expect(assessRequests().length).toBeGreaterThan(before);
    expect(await qualificationsOf(db(), conv.id)).toHaveLength(0);
    const [contact] = await db()
      .select()
      .from(contacts)
      .where(eq(contacts.phone, `+${phone}`));
    expect((await h.caller().leads.get({ contactId: contact!.id })).qualification).toBeNull();
    const rows = await db()
      .select({ id: activities.id })
      .from(activities)
      .where(and(eq(activities.contactId, contact!.id), eq(activities.type, 'lead_qualified')));
    expect(rows).toHaveLength(0);
  });

  it('leads.get refuses an unknown contact and a malformed id', async () => {
    await expect(
      h.caller().leads.get({ contactId: '00000000-0000-4000-8000-00000000dead' }),
    ).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(h.caller().leads.get({ contactId: 'x\u0000' })).rejects.toMatchObject({
      code: 'BAD_REQUEST',
    });
  });
});

describe('without an OpenAI key', () => {
  it('schedules no assessment, keeps the score current, and says so in the system status', async () => {
    const t = await createTestRuntime({ LEAD_RESCORE_DELAY_SECONDS: '0' });
    try {
      const db = t.runtime.database.db;
      const { conversation, contact } = await seedConversation(db, {
        messages: [{ direction: 'inbound', body: 'hello' }],
      });
      await t.runtime.pipeline.deps.afterCustomerMessage?.(conversation.id);
      await t.runtime.pipeline.deps.afterCustomerMessage?.(conversation.id);
      expect(await pendingJobs(db, QUEUE_LEADS_QUALIFY, { conversationId: conversation.id })).toHaveLength(0);
      // The rescore is scheduled once, however often it is asked for while it waits.
      expect(await pendingJobs(db, QUEUE_LEADS_SCORE, { contactId: contact.id })).toHaveLength(1);
      const status = await t.caller().stats.systemStatus();
      expect(status.leadQualification.enabled).toBe(false);
      expect(status.leadQualification.detail).toContain('OPENAI_API_KEY');
      const [n] = await db.execute<{ n: number }>(sql`select count(*)::int as n from lead_qualifications`);
      expect(n!.n).toBe(0);
    } finally {
      await t.close();
    }
  });
});
