import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { campaignRecipients, campaigns } from '../../drizzle';
import type { ScoringFacts } from '../../server/db/queries/leads';
import {
  compareDecimal,
  DEFAULT_LEAD_SCORING,
  leadScoringConfig,
  scoreLead,
} from '../../server/services/lead-scoring';
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

  it('takes its points from configuration', () => {
    const config = leadScoringConfig({ profile: { name: 50, email: 0, company: 0, position: 0 } });
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

describe('leads.score and rescore', () => {
  it('score explains the rules for one contact without storing; rescore stores score and breakdown', async () => {
    const { db } = t.runtime.database;
    const { contact } = await seedConversation(db, {
      name: 'Scored',
      email: 'scored@example.com',
      messages: [
        { direction: 'inbound', body: 'one', at: minutesAgo(30) },
        { direction: 'outbound', body: 'answer', at: minutesAgo(29) },
        { direction: 'inbound', body: 'two', at: minutesAgo(20) },
      ],
    });
    await agent().crm.deals.create({ contactId: contact.id, title: 'd', value: '2500' });
    await agent().crm.deals.create({
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

    const scored = await agent().leads.score({ contactId: contact.id });
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

    const result = await agent().leads.rescore({ contactIds: [contact.id] });
    expect(result).toEqual({ scored: 1, changed: 1 });
    const again = await agent().leads.score({ contactId: contact.id });
    expect(again.storedScore).toBe(54);
    expect(again.scoredAt).toBeInstanceOf(Date);
    const detail = await agent().crm.contacts.get({ id: contact.id });
    expect(detail.scoreBreakdown).toEqual(scored.breakdown);
    expect(await agent().leads.rescore({ contactIds: [contact.id] })).toEqual({ scored: 1, changed: 0 });
    expect(await codeOf(agent().leads.score({ contactId: MISSING_ID }))).toBe('NOT_FOUND');
  });

  it('rescore with no filter scores every contact', async () => {
    const total = (await agent().crm.contacts.list({ limit: 100 })).items.length;
    const result = await agent().leads.rescore({});
    expect(result.scored).toBe(total);
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
