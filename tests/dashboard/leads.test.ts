import { randomUUID } from 'node:crypto';
import { asc, eq, isNull, sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { campaignRecipients, campaigns, contacts, events, systemState } from '../../drizzle';
import type { ScoringFacts } from '../../server/db/queries/leads';
import { putSystemState } from '../../server/db/queries/system';
import { compareDecimal, DEFAULT_LEAD_SCORING, scoreLead } from '../../server/services/lead-scoring';
import { runRescoreJob } from '../../server/services/leads';
import { createTestRuntime, type TestRuntime } from '../helpers/runtime';
import { codeOf, MISSING_ID, minutesAgo, seedConversation } from '../helpers/seed';

const facts = (over: Partial<ScoringFacts> = {}): ScoringFacts => ({
  id: MISSING_ID,
  name: null,
  pushName: null,
  email: null,
  company: null,
  position: null,
  lastInboundAt: null,
  inboundCount: 0,
  topDealValue: null,
  campaignReplies: 0,
  ...over,
});

describe('lead scoring rules', () => {
  const now = new Date('2026-01-10T12:00:00Z');

  it('explains every rule, even those giving nothing', () => {
    const { score, breakdown } = scoreLead(facts(), DEFAULT_LEAD_SCORING, now);
    expect(score).toBe(0);
    expect(breakdown.map((b) => b.rule)).toEqual([
      'engagement.replies',
      'engagement.recency',
      'profile.name',
      'profile.email',
      'profile.company',
      'profile.position',
      'deal.value',
      'campaign.replies',
    ]);
  });

  it('adds engagement, profile, deal value and campaign replies, capped at the maximum', () => {
    const { score, breakdown } = scoreLead(
      facts({
        name: 'Ada',
        email: 'a@example.com',
        inboundCount: 4,
        lastInboundAt: new Date('2026-01-09T13:00:00Z'),
        topDealValue: '1000.00',
        campaignReplies: 1,
      }),
      DEFAULT_LEAD_SCORING,
      now,
    );
    const points = Object.fromEntries(breakdown.map((b) => [b.rule, b.points]));
    expect(points).toMatchObject({
      'engagement.replies': 8,
      'engagement.recency': 15,
      'profile.name': 5,
      'profile.email': 10,
      'profile.company': 0,
      'deal.value': 15,
      'campaign.replies': 5,
    });
    expect(score).toBe(58);
    const big = scoreLead(
      facts({
        name: 'x',
        email: 'x',
        company: 'x',
        position: 'x',
        inboundCount: 100,
        lastInboundAt: now,
        topDealValue: '99999',
        campaignReplies: 9,
      }),
      DEFAULT_LEAD_SCORING,
      now,
    );
    expect(big.score).toBe(100);
    expect(big.breakdown.at(-1)).toMatchObject({ rule: 'cap', detail: 'capped at 100' });
  });

  it('takes its points from the configuration it is given', () => {
    const config = { ...DEFAULT_LEAD_SCORING, profile: { name: 50, email: 0, company: 0, position: 0 } };
    expect(scoreLead(facts({ name: 'Ada' }), config, now).score).toBe(50);
  });

  it('compares money exactly', () => {
    expect(compareDecimal('999.99', '1000')).toBe(-1);
    expect(compareDecimal('1000.00', '1000')).toBe(0);
    expect(compareDecimal('10000.01', '10000')).toBe(1);
    expect(compareDecimal('0.1', '0.01')).toBe(1);
  });
});

let t: TestRuntime;
beforeAll(async () => {
  t = await createTestRuntime();
});
afterAll(() => t?.close());
const agent = () => t.caller('agent');

describe('leads.list', () => {
  it('lists leads by score with status, source, tag, score and last-inbound filters', async () => {
    const { db } = t.runtime.database;
    const hot = await seedConversation(db, {
      leadScore: 90,
      leadStatus: 'qualified',
      source: 'ads',
      tags: ['hot'],
      messages: [{ direction: 'inbound', body: 'buy', at: minutesAgo(5) }],
    });
    const cold = await seedConversation(db, {
      leadScore: 10,
      messages: [{ direction: 'inbound', body: 'hm', at: minutesAgo(60 * 24 * 40) }],
    });
    const ids = async (f: Parameters<ReturnType<TestRuntime['caller']>['leads']['list']>[0]) =>
      (await agent().leads.list(f)).items.map((l) => l.id);
    expect((await ids({}))[0]).toBe(hot.contact.id);
    expect(await ids({ status: 'qualified' })).toEqual([hot.contact.id]);
    expect(await ids({ source: 'ads' })).toEqual([hot.contact.id]);
    expect(await ids({ tag: 'hot' })).toEqual([hot.contact.id]);
    expect(await ids({ maxScore: 10 })).toContain(cold.contact.id);
    expect(await ids({ lastInboundAfter: minutesAgo(60) })).toEqual([hot.contact.id]);
    expect(await ids({ lastInboundBefore: minutesAgo(60 * 24 * 30) })).toEqual([cold.contact.id]);
    const lead = (await agent().leads.list({ status: 'qualified' })).items[0]!;
    expect(lead).toMatchObject({ leadScore: 90, source: 'ads', tags: ['hot'] });
    expect(lead.lastInboundAt).toBeInstanceOf(Date);
    expect(await codeOf(t.caller(null).leads.list({}))).toBe('UNAUTHORIZED');
  });
});

describe('leads.setStatus', () => {
  it('changes the status once and records an activity with the reason', async () => {
    const c = await agent().crm.contacts.create({ phone: '+14155550601' });
    const first = await agent().leads.setStatus({ contactId: c.id, status: 'contacted', reason: 'called' });
    expect(first).toMatchObject({ changed: true, lead: { leadStatus: 'contacted' } });
    expect((await agent().leads.setStatus({ contactId: c.id, status: 'contacted' })).changed).toBe(false);
    const acts = await agent().crm.activities.list({ contactId: c.id });
    expect(acts.items.map((a) => a.metadata)).toEqual([{ from: 'new', to: 'contacted', reason: 'called' }]);
    expect(await codeOf(agent().leads.setStatus({ contactId: MISSING_ID, status: 'lost' }))).toBe(
      'NOT_FOUND',
    );
    expect(await codeOf(agent().leads.setStatus({ contactId: c.id, status: 'hot' as 'lost' }))).toBe(
      'BAD_REQUEST',
    );
  });
});

/** Polls leads.rescoreStatus until the run has finished (completed or failed). */
async function finishedRun(c: ReturnType<TestRuntime['caller']>, runId: string) {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const run = await c.leads.rescoreStatus();
    if (run?.runId === runId && (run.status === 'completed' || run.status === 'failed')) return run;
    if (Date.now() > deadline) throw new Error(`rescore run ${runId} did not finish: ${JSON.stringify(run)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('leads.score and rescore (background runs, with workers)', () => {
  let w: TestRuntime;
  beforeAll(async () => {
    w = await createTestRuntime({}, { workers: true });
  });
  afterAll(() => w?.close());
  const wa = () => w.caller('agent');

  it('score explains the rules for one contact without storing; a rescore run stores score and breakdown', async () => {
    const { db } = w.runtime.database;
    const { contact } = await seedConversation(db, {
      name: 'Scored',
      email: 'scored@example.com',
      messages: [
        { direction: 'inbound', body: 'one', at: minutesAgo(30) },
        { direction: 'outbound', body: 'answer', at: minutesAgo(29) },
        { direction: 'inbound', body: 'two', at: minutesAgo(20) },
      ],
    });
    await wa().crm.deals.create({ contactId: contact.id, title: 'd', value: '2500' });
    await wa().crm.deals.create({
      contactId: contact.id,
      title: 'lost one',
      value: '50000',
      stage: 'lost',
    });
    const [campaign] = await db.insert(campaigns).values({ name: 'c', template: 'hi' }).returning();
    await db.insert(campaignRecipients).values({
      campaignId: campaign!.id,
      contactId: contact.id,
      phone: contact.phone,
      repliedAt: new Date(),
    });

    const scored = await wa().leads.score({ contactId: contact.id });
    const points = Object.fromEntries(scored.breakdown.map((b) => [b.rule, b.points]));
    expect(points).toMatchObject({
      'engagement.replies': 4,
      'engagement.recency': 15,
      'profile.name': 5,
      'profile.email': 10,
      'deal.value': 15,
      'campaign.replies': 5,
    });
    expect(scored.score).toBe(54);
    expect(scored.storedScore).toBe(0);

    const started = await wa().leads.rescore({ contactIds: [contact.id] });
    expect(started).toMatchObject({
      status: 'queued',
      filter: { contactIds: [contact.id] },
      scored: 0,
      changed: 0,
      total: null,
      startedAt: null,
      finishedAt: null,
      error: null,
    });
    expect(started.queuedAt).toBeInstanceOf(Date);
    const run = await finishedRun(wa(), started.runId);
    expect(run).toMatchObject({ status: 'completed', scored: 1, changed: 1, total: 1, error: null });
    expect(run.startedAt).toBeInstanceOf(Date);
    expect(run.finishedAt!.getTime()).toBeGreaterThanOrEqual(run.startedAt!.getTime());
    const again = await wa().leads.score({ contactId: contact.id });
    expect(again.storedScore).toBe(54);
    expect(again.scoredAt).toBeInstanceOf(Date);
    const detail = await wa().crm.contacts.get({ id: contact.id });
    expect(detail.scoreBreakdown).toEqual(scored.breakdown);
    const logged = await db.select().from(events).where(eq(events.type, 'leads.rescore'));
    expect(logged.map((e) => e.payload)).toEqual([
      { type: 'leads.rescore', runId: started.runId, status: 'completed' },
    ]);

    const second = await wa().leads.rescore({ contactIds: [contact.id] });
    expect(second.runId).not.toBe(started.runId);
    expect(await finishedRun(wa(), second.runId)).toMatchObject({ scored: 1, changed: 0 });
    expect(await codeOf(wa().leads.score({ contactId: MISSING_ID }))).toBe('NOT_FOUND');
  });

  it('a run honours its filter', async () => {
    const { db } = w.runtime.database;
    const mk = (phone: string, source: string, tags: string[]) =>
      seedConversation(db, { phone, email: `${phone.slice(1)}@example.com`, source, tags });
    const a = await mk('+14155550801', 'rescore-ads', ['vip']);
    const b = await mk('+14155550802', 'rescore-ads', []);
    const c = await mk('+14155550803', 'whatsapp', ['vip']);
    const started = await wa().leads.rescore({ source: 'rescore-ads', tag: 'vip' });
    const run = await finishedRun(wa(), started.runId);
    expect(run).toMatchObject({
      status: 'completed',
      filter: { source: 'rescore-ads', tag: 'vip' },
      scored: 1,
      total: 1,
    });
    expect((await wa().leads.score({ contactId: a.contact.id })).storedScore).toBeGreaterThan(0);
    for (const other of [b, c])
      expect((await wa().leads.score({ contactId: other.contact.id })).scoredAt).toBeNull();
  });

  it('a run with no filter scores every contact', async () => {
    const total = (await wa().crm.contacts.list({ limit: 100 })).items.length;
    const started = await wa().leads.rescore({});
    const run = await finishedRun(wa(), started.runId);
    expect(run).toMatchObject({ status: 'completed', scored: total, total });
  });
});

describe('leads.rescore runs one at a time (no workers: jobs run by hand)', () => {
  const stateOf = async () =>
    (await t.runtime.database.db.select().from(systemState).where(eq(systemState.key, 'leads.rescore')))[0]!
      .value;

  it('answers with the queued run instead of starting another, and the job takes it over', async () => {
    const { db } = t.runtime.database;
    expect(await agent().leads.rescoreStatus()).toBeNull();
    const first = await agent().leads.rescore({});
    expect(first.status).toBe('queued');
    const second = await agent().leads.rescore({ source: 'elsewhere' });
    expect(second).toEqual(first);
    expect(await agent().leads.rescoreStatus()).toEqual(first);

    const total = (await agent().crm.contacts.list({ limit: 100 })).items.length;
    const job = { id: 'job-1', data: { runId: first.runId }, retryCount: 0 };
    expect(await runRescoreJob({ db }, job)).toBe('completed');
    expect(await agent().leads.rescoreStatus()).toMatchObject({ status: 'completed', scored: total, total });
    // A job of a finished run (a duplicate, or one retried late) does nothing.
    expect(await runRescoreJob({ db }, job)).toBe('skipped');
    const next = await agent().leads.rescore({});
    expect(next.runId).not.toBe(first.runId);
  });

  it('a retried run resumes after the last batch its crashed attempt stored', async () => {
    const { db } = t.runtime.database;
    const run = await agent().leads.rescoreStatus();
    expect(run?.status).toBe('queued');
    const ids = (
      await db
        .select({ id: contacts.id })
        .from(contacts)
        .where(isNull(contacts.deletedAt))
        .orderBy(asc(contacts.id))
    ).map((r) => r.id);
    // A first attempt took the run, stored one contact's batch, then died.
    await putSystemState(db, 'leads.rescore', {
      ...(await stateOf()),
      status: 'running',
      attempt: 'dead-job/0',
      afterId: ids[0],
      scored: 1,
      changed: 0,
      total: ids.length,
      startedAt: new Date().toISOString(),
    });
    expect(await runRescoreJob({ db }, { id: 'dead-job', data: { runId: run!.runId }, retryCount: 1 })).toBe(
      'completed',
    );
    expect(await agent().leads.rescoreStatus()).toMatchObject({ status: 'completed', scored: ids.length });
    expect(await stateOf()).toMatchObject({ attempt: 'dead-job/1', afterId: ids.at(-1) });
  });

  it('a run whose job is gone is reported failed and does not block the next one', async () => {
    const { db } = t.runtime.database;
    const orphan = {
      ...(await stateOf()),
      runId: randomUUID(),
      status: 'running',
      attempt: 'gone/3',
      finishedAt: null,
    };
    await putSystemState(db, 'leads.rescore', orphan);
    const failed = await agent().leads.rescoreStatus();
    expect(failed).toMatchObject({ runId: orphan.runId, status: 'failed', error: expect.any(String) });
    const logged = await db.select().from(events).where(eq(events.type, 'leads.rescore'));
    expect(logged.map((e) => e.payload)).toContainEqual({
      type: 'leads.rescore',
      runId: orphan.runId,
      status: 'failed',
    });
    const next = await agent().leads.rescore({});
    expect(next).toMatchObject({ status: 'queued' });
    expect(next.runId).not.toBe(orphan.runId);
  });

  it('concurrent calls start a single run', async () => {
    const { db } = t.runtime.database;
    const queued = (await agent().leads.rescoreStatus())!;
    await runRescoreJob({ db }, { id: 'job-2', data: { runId: queued.runId }, retryCount: 0 });
    const runs = await Promise.all(Array.from({ length: 4 }, () => agent().leads.rescore({})));
    expect(new Set(runs.map((r) => r.runId)).size).toBe(1);
    expect(runs[0]!.runId).not.toBe(queued.runId);
    const [jobs] = await db.execute<{ n: number }>(
      sql`select count(*)::int as n from pgboss.job where name = 'leads.rescore' and data ->> 'runId' = ${runs[0]!.runId}`,
    );
    expect(jobs!.n).toBe(1);
  });
});

describe('leads.funnel and analytics', () => {
  it('counts per status, what each status reached by history, and conversion between them', async () => {
    const t2 = await createTestRuntime();
    try {
      const a = t2.caller('agent');
      const mk = async (
        phone: string,
        steps: ('contacted' | 'qualified' | 'proposal' | 'customer' | 'lost')[],
      ) => {
        const c = await a.crm.contacts.create({ phone, source: phone.endsWith('1') ? 'ads' : 'whatsapp' });
        for (const s of steps) await a.leads.setStatus({ contactId: c.id, status: s });
        return c;
      };
      await mk('+14155550701', []);
      await mk('+14155550702', ['contacted']);
      await mk('+14155550703', ['contacted', 'qualified']);
      await mk('+14155550704', ['contacted', 'qualified', 'proposal', 'customer']);
      await mk('+14155550705', ['contacted', 'qualified', 'lost']);
      const funnel = await a.leads.funnel({});
      expect(funnel.total).toBe(5);
      expect(funnel.lost).toBe(1);
      expect(funnel.stages.map((s) => [s.status, s.current, s.reached, s.conversion])).toEqual([
        ['new', 1, 5, null],
        ['contacted', 1, 4, 0.8],
        ['qualified', 1, 3, 0.75],
        ['proposal', 0, 1, 0.3333],
        ['customer', 1, 1, 1],
      ]);
      const none = await a.leads.funnel({ from: new Date(Date.now() + 86_400_000) });
      expect(none.total).toBe(0);
      expect(none.stages[1]!.conversion).toBeNull();
      expect(await codeOf(a.leads.funnel({ from: new Date(), to: new Date(Date.now() - 1000) }))).toBe(
        'BAD_REQUEST',
      );

      const analytics = await a.leads.analytics({ groupBy: 'day' });
      expect(analytics.bySource.map((s) => [s.source, s.contacts, s.customers])).toEqual([
        ['whatsapp', 4, 1],
        ['ads', 1, 0],
      ]);
      expect(analytics.byPeriod).toHaveLength(1);
      expect(analytics.byPeriod[0]).toMatchObject({ contacts: 5, qualified: 2, customers: 1, lost: 1 });
      expect(analytics.byPeriod[0]!.periodStart).toBeInstanceOf(Date);
      const monthly = await a.leads.analytics({ groupBy: 'month' });
      expect(monthly.byPeriod[0]!.periodStart.getUTCDate()).toBe(1);
    } finally {
      await t2.close();
    }
  });
});

describe('over HTTP', () => {
  it('leads.list and leads.funnel answer an agent in one batch', async () => {
    const key = await t.key('agent');
    const input = encodeURIComponent(JSON.stringify({ 0: { json: { limit: 5 } }, 1: { json: {} } }));
    const res = await (await t.app()).inject({
      url: `/trpc/leads.list,leads.funnel?batch=1&input=${input}`,
      headers: { authorization: `Bearer ${key}` },
    });
    expect(res.statusCode).toBe(200);
    const [list, funnel] = res.json();
    expect(list.result.data.json.items.length).toBeGreaterThan(0);
    expect(funnel.result.data.json.stages).toHaveLength(5);
  });
});
