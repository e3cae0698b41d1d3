import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { campaigns } from '../../drizzle';
import { createTestRuntime, type TestRuntime } from '../helpers/runtime';
import { codeOf, MISSING_ID, minutesAgo, seedConversation } from '../helpers/seed';

let t: TestRuntime;
beforeAll(async () => {
  t = await createTestRuntime();
});
afterAll(() => t?.close());
const agent = () => t.caller('agent');

const botEventCount = async (conversationId?: string) =>
  conversationId
    ? (
        await t.runtime.database
          .sql`select count(*)::int as n from bot_events where conversation_id = ${conversationId}`
      )[0]!.n
    : (await t.runtime.database.sql`select count(*)::int as n from bot_events`)[0]!.n;

describe('bot.setEnabled', () => {
  it('by conversation id: off gives the conversation to a human, on gives it back, each logged once', async () => {
    const { conversation } = await seedConversation(t.runtime.database.db);
    const off = await agent().bot.setEnabled({
      conversationId: conversation.id,
      enabled: false,
      reason: 'VIP',
    });
    expect(off.changed).toBe(true);
    expect(off.status).toMatchObject({
      owner: 'human',
      botActive: false,
      ownerReason: 'VIP',
      botResumesAt: null,
    });
    expect((await agent().bot.setEnabled({ conversationId: conversation.id, enabled: false })).changed).toBe(
      false,
    );
    const on = await t.caller('admin').bot.setEnabled({ conversationId: conversation.id, enabled: true });
    expect(on.status.owner).toBe('bot');
    const history = await agent().bot.history({ conversationId: conversation.id });
    expect(history.items.map((h) => [h.fromOwner, h.toOwner, h.actorType, h.actorId, h.reason])).toEqual([
      ['human', 'bot', 'apiKey', 'test-admin', null],
      ['bot', 'human', 'apiKey', 'test-agent', 'VIP'],
    ]);
  });

  it('turning the bot off can schedule its return', async () => {
    const { conversation } = await seedConversation(t.runtime.database.db);
    const off = await agent().bot.setEnabled({
      conversationId: conversation.id,
      enabled: false,
      resumeInMinutes: 30,
    });
    const inMinutes = (off.status.botResumesAt!.getTime() - Date.now()) / 60_000;
    expect(inMinutes).toBeGreaterThan(25);
    expect(inMinutes).toBeLessThan(31);
  });

  it('by phone, in any format the default region reads', async () => {
    const { conversation } = await seedConversation(t.runtime.database.db, { phone: '+14155550801' });
    const res = await agent().bot.setEnabled({ phone: '(415) 555-0801', enabled: false, reason: 'by phone' });
    expect(res.status.conversationId).toBe(conversation.id);
    expect(res.status.owner).toBe('human');
    expect(await codeOf(agent().bot.setEnabled({ phone: '+14155550899', enabled: false }))).toBe('NOT_FOUND');
    expect(await codeOf(agent().bot.setEnabled({ phone: 'abcdef', enabled: false }))).toBe('BAD_REQUEST');
  });

  it('errors: NOT_FOUND for a missing conversation (nothing logged), BAD_REQUEST for bad input, 401 without a key', async () => {
    const before = await botEventCount();
    expect(await codeOf(agent().bot.setEnabled({ conversationId: MISSING_ID, enabled: false }))).toBe(
      'NOT_FOUND',
    );
    expect(await botEventCount()).toBe(before);
    expect(
      await codeOf(
        agent().bot.setEnabled({ conversationId: MISSING_ID } as unknown as {
          conversationId: string;
          enabled: boolean;
        }),
      ),
    ).toBe('BAD_REQUEST');
    expect(await codeOf(t.caller(null).bot.setEnabled({ conversationId: MISSING_ID, enabled: true }))).toBe(
      'UNAUTHORIZED',
    );
  });
});

describe('bot.setEnabledBulk', () => {
  it('reports changed, unchanged and not found per id, and logs only real changes', async () => {
    const { db } = t.runtime.database;
    const a = (await seedConversation(db)).conversation.id;
    const b = (await seedConversation(db, { owner: 'human' })).conversation.id;
    const c = (await seedConversation(db)).conversation.id;
    const before = await botEventCount();
    const res = await agent().bot.setEnabledBulk({
      conversationIds: [a, b, MISSING_ID, c, a],
      enabled: false,
      reason: 'night shift',
    });
    expect(res.results).toEqual([
      { conversationId: a, result: 'changed' },
      { conversationId: b, result: 'unchanged' },
      { conversationId: MISSING_ID, result: 'not_found' },
      { conversationId: c, result: 'changed' },
    ]);
    expect(res).toMatchObject({ changed: 2, unchanged: 1, notFound: 1 });
    expect(await botEventCount()).toBe(before + 2);
    expect(await botEventCount(MISSING_ID)).toBe(0);
    const events = await t.runtime.database
      .sql`select conversation_id from events where type = 'conversation.owner' and conversation_id in (${a}, ${b}, ${c})`;
    expect(events.map((e) => e.conversation_id).sort()).toEqual([a, c].sort());
    expect(await codeOf(agent().bot.setEnabledBulk({ conversationIds: [], enabled: true }))).toBe(
      'BAD_REQUEST',
    );
  });
});

describe('bot.history', () => {
  it('pages every owner change newest first; NOT_FOUND for a missing conversation', async () => {
    const { conversation } = await seedConversation(t.runtime.database.db);
    for (let i = 0; i < 5; i++) {
      await agent().bot.setEnabled({
        conversationId: conversation.id,
        enabled: i % 2 === 1,
        reason: `step ${i}`,
      });
    }
    const first = await agent().bot.history({ conversationId: conversation.id, limit: 3 });
    const second = await agent().bot.history({
      conversationId: conversation.id,
      limit: 3,
      cursor: first.nextCursor,
    });
    expect([...first.items, ...second.items].map((h) => h.reason)).toEqual([
      'step 4',
      'step 3',
      'step 2',
      'step 1',
      'step 0',
    ]);
    expect(second.nextCursor).toBeNull();
    expect(await codeOf(agent().bot.history({ conversationId: MISSING_ID }))).toBe('NOT_FOUND');
  });
});

describe('bot over HTTP', () => {
  it('an agent turns the bot off by phone and reads the history; a bad id is 400, a missing one 404', async () => {
    const { conversation } = await seedConversation(t.runtime.database.db, { phone: '+14155550850' });
    const app = await t.app();
    const key = await t.key('agent');
    const post = (path: string, input: unknown) =>
      app.inject({
        method: 'POST',
        url: `/trpc/${path}`,
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        payload: JSON.stringify({ json: input }),
      });
    const off = await post('bot.setEnabled', {
      phone: '+1 415 555 0850',
      enabled: false,
      reason: 'over http',
    });
    expect(off.statusCode).toBe(200);
    expect(off.json().result.data.json.status.owner).toBe('human');
    const history = await app.inject({
      url: `/trpc/bot.history?input=${encodeURIComponent(JSON.stringify({ json: { conversationId: conversation.id } }))}`,
      headers: { authorization: `Bearer ${key}` },
    });
    expect(history.json().result.data.json.items[0]).toMatchObject({
      reason: 'over http',
      actorType: 'apiKey',
    });
    expect((await post('bot.setEnabled', { conversationId: 'x', enabled: true })).statusCode).toBe(400);
    expect((await post('bot.setEnabled', { conversationId: MISSING_ID, enabled: true })).statusCode).toBe(
      404,
    );
  });
});

describe('stats.dashboard', () => {
  it('counts contacts, conversations by owner, unread, messages today and over 7 days, tasks, deals and campaigns', async () => {
    const fresh = await createTestRuntime();
    try {
      const { db } = fresh.runtime.database;
      const a = fresh.caller('agent');
      await seedConversation(db, {
        unread: 2,
        messages: [
          { direction: 'inbound', body: 'today in', at: new Date() },
          { direction: 'outbound', body: 'today out', at: new Date() },
          { direction: 'inbound', body: 'three days ago', at: minutesAgo(60 * 24 * 3) },
          { direction: 'inbound', body: 'a month ago', at: minutesAgo(60 * 24 * 30) },
        ],
      });
      await seedConversation(db, { owner: 'human', handoff: true, unread: 1 });
      const old = await seedConversation(db, { createdAt: minutesAgo(60 * 24 * 20) });
      const deleted = await a.crm.contacts.create({ phone: '+14155550901' });
      await fresh.caller('admin').crm.contacts.delete({ id: deleted.id });
      await a.crm.tasks.create({ title: 'late', dueAt: minutesAgo(10) });
      await a.crm.tasks.create({ title: 'later', dueAt: minutesAgo(-10) });
      await a.crm.deals.create({ contactId: old.contact.id, title: 'x', value: '100.10' });
      await a.crm.deals.create({ contactId: old.contact.id, title: 'y', value: '0.20' });
      await a.crm.deals.create({ contactId: old.contact.id, title: 'won', value: '999', stage: 'won' });
      await a.crm.deals.create({ contactId: old.contact.id, title: 'eur', value: '5', currency: 'EUR' });
      await db.insert(campaigns).values([
        { name: 'running', template: 't', status: 'running' },
        { name: 'draft', template: 't' },
      ]);

      const d = await a.stats.dashboard({});
      expect(d.contacts).toEqual({ total: 3, newToday: 2, newLast7Days: 2 });
      expect(d.conversations).toEqual({
        total: 3,
        bot: 2,
        human: 1,
        unread: 2,
        unreadMessages: 3,
        openHandoffs: 1,
        waitingForHuman: 0,
        waitingOverSla: 0,
        slaMinutes: 15,
      });
      expect(d.messages).toEqual({
        today: { inbound: 1, outbound: 1 },
        last7Days: { inbound: 2, outbound: 1 },
      });
      expect(d.tasks).toEqual({ open: 3, overdue: 1 });
      expect(d.deals).toEqual({
        open: 3,
        pipelineValue: [
          { currency: 'EUR', value: '5.00' },
          { currency: 'USD', value: '100.30' },
        ],
      });
      expect(d.campaigns).toEqual({ running: 1 });
      expect(d.generatedAt).toBeInstanceOf(Date);

      const tokyo = await a.stats.dashboard({ timeZone: 'Asia/Tokyo' });
      expect(tokyo.contacts.total).toBe(3);
      expect(await codeOf(a.stats.dashboard({ timeZone: 'Mars/Olympus' }))).toBe('BAD_REQUEST');
      expect(await codeOf(fresh.caller(null).stats.dashboard({}))).toBe('UNAUTHORIZED');

      const key = await fresh.key('agent');
      const res = await (await fresh.app()).inject({
        url: '/trpc/stats.dashboard',
        headers: { authorization: `Bearer ${key}` },
      });
      expect(res.statusCode).toBe(200);
      expect(res.json().result.data.json.deals.pipelineValue[1].value).toBe('100.30');
    } finally {
      await fresh.close();
    }
  });
});
