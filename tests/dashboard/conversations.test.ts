import { PgDialect } from 'drizzle-orm/pg-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { contactSearchCondition } from '../../server/db/queries/contacts';
import {
  contactSearchPattern,
  conversationListQuery,
  listConversations,
} from '../../server/db/queries/conversations';
import { createTestRuntime, type TestRuntime } from '../helpers/runtime';
import { codeOf, MISSING_ID, minutesAgo, seedConversation } from '../helpers/seed';

let t: TestRuntime;
let ids: { ada: string; bob: string; cleo: string; dan: string; adaContact: string };

beforeAll(async () => {
  t = await createTestRuntime();
  const { db } = t.runtime.database;
  const ada = await seedConversation(db, {
    name: 'Ada Lovelace',
    phone: '+14155550101',
    tags: ['vip'],
    leadStatus: 'qualified',
    unread: 2,
    messages: [
      { direction: 'inbound', body: 'Do you ship engines abroad?', at: minutesAgo(50) },
      {
        direction: 'outbound',
        body: 'We ship worldwide.',
        at: minutesAgo(49),
        status: 'read',
        ai: { model: 'gpt-test', promptTokens: 120, completionTokens: 30, latencyMs: 850 },
      },
      { direction: 'inbound', body: 'Great, what about the analytical engine?', at: minutesAgo(10) },
    ],
  });
  const bob = await seedConversation(db, {
    name: 'Bob Builder',
    owner: 'human',
    handoff: true,
    company: 'Builders Ltd',
    messages: [{ direction: 'inbound', body: 'I want to talk to a person', at: minutesAgo(30) }],
  });
  const cleo = await seedConversation(db, {
    name: 'Cleo',
    optedOut: true,
    leadStatus: 'lost',
    messages: [{ direction: 'inbound', body: 'STOP', at: minutesAgo(40) }],
  });
  const dan = await seedConversation(db, {
    name: 'Dan',
    tags: ['vip', 'wholesale'],
    messages: [{ direction: 'inbound', body: 'hello', at: minutesAgo(5) }],
  });
  ids = {
    ada: ada.conversation.id,
    bob: bob.conversation.id,
    cleo: cleo.conversation.id,
    dan: dan.conversation.id,
    adaContact: ada.contact.id,
  };
  // More conversations to page through.
  for (let i = 0; i < 12; i++) {
    await seedConversation(db, {
      name: `Filler ${i}`,
      messages: [{ direction: 'inbound', body: `filler message ${i}`, at: minutesAgo(100 + i) }],
    });
  }
});
afterAll(() => t?.close());

describe('conversations.list', () => {
  it('lists newest activity first with contact summary, preview, unread count and owner', async () => {
    const page = await t.caller('agent').conversations.list({ limit: 3 });
    expect(page.items.map((i) => i.id)).toEqual([ids.dan, ids.ada, ids.bob]);
    const ada = page.items[1]!;
    expect(ada).toMatchObject({
      owner: 'bot',
      unreadCount: 2,
      lastMessagePreview: 'Great, what about the analytical engine?',
      hasOpenHandoff: false,
      contact: { name: 'Ada Lovelace', phone: '+14155550101', tags: ['vip'], leadStatus: 'qualified' },
    });
    expect(page.items[2]!.hasOpenHandoff).toBe(true);
    expect(page.nextCursor).toEqual(expect.any(String));
  });

  it('pages through everything once, in a stable order', async () => {
    const caller = t.caller('agent');
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const page: Awaited<ReturnType<typeof caller.conversations.list>> = await caller.conversations.list({
        limit: 5,
        cursor,
      });
      seen.push(...page.items.map((i) => i.id));
      cursor = page.nextCursor;
      pages++;
    } while (cursor);
    expect(pages).toBe(4);
    expect(seen).toHaveLength(16);
    expect(new Set(seen).size).toBe(16);
    const all = await caller.conversations.list({ limit: 100 });
    expect(all.items.map((i) => i.id)).toEqual(seen);
    expect(all.nextCursor).toBeNull();
  });

  it('filters by owner, unread, open handoff, opt-out, tag, lead status and text', async () => {
    const list = async (f: Parameters<ReturnType<TestRuntime['caller']>['conversations']['list']>[0]) =>
      (await t.caller('agent').conversations.list(f)).items.map((i) => i.id);
    expect(await list({ owner: 'human' })).toEqual([ids.bob]);
    expect(await list({ unread: true })).toEqual([ids.ada]);
    expect(await list({ hasOpenHandoff: true })).toEqual([ids.bob]);
    expect(await list({ hasOpenHandoff: false })).not.toContain(ids.bob);
    expect(await list({ optedOut: true })).toEqual([ids.cleo]);
    expect(await list({ tag: 'vip' })).toEqual([ids.dan, ids.ada]);
    expect(await list({ tag: 'vip', leadStatus: 'qualified' })).toEqual([ids.ada]);
    expect(await list({ q: 'lovelace' })).toEqual([ids.ada]);
    expect(await list({ q: 'builders' })).toEqual([ids.bob]);
    expect(await list({ q: '(415) 555-0101' })).toEqual([ids.ada]);
    expect(await list({ q: '100%_' })).toEqual([]);
  });

  it('runs each filter shape with its own values: text and tag filters, with and without a cursor', async () => {
    const list = async (f: Parameters<ReturnType<TestRuntime['caller']>['conversations']['list']>[0]) =>
      await t.caller('agent').conversations.list(f);
    // Same shapes as above, other values: each call gets its own results.
    expect((await list({ tag: 'wholesale' })).items.map((i) => i.id)).toEqual([ids.dan]);
    expect((await list({ tag: 'nobody' })).items).toEqual([]);
    expect((await list({ q: 'cleo' })).items.map((i) => i.id)).toEqual([ids.cleo]);
    expect((await list({ q: '555-0101' })).items.map((i) => i.id)).toEqual([ids.ada]);
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: Awaited<ReturnType<typeof list>> = await list({ q: 'filler', limit: 5, cursor });
      seen.push(...page.items.map((i) => i.id));
      cursor = page.nextCursor;
    } while (cursor);
    expect(new Set(seen).size).toBe(12);
    const all = await list({ q: 'filler', limit: 100 });
    expect(all.items.map((i) => i.id)).toEqual(seen);
  });

  it('maps inbox rows exactly as Drizzle does', async () => {
    const { db } = t.runtime.database;
    // A row whose times all differ (last message outbound), so a field read from the wrong column shows.
    await seedConversation(db, {
      name: 'Zed Mapping',
      owner: 'human',
      optedOut: true,
      messages: [
        { direction: 'inbound', body: 'question', at: minutesAgo(300) },
        { direction: 'outbound', body: 'answer', at: minutesAgo(200) },
      ],
    });
    const filters = [
      {},
      { owner: 'human' as const },
      { tag: 'vip' },
      { q: 'ada' },
      { hasOpenHandoff: true },
      { optedOut: true },
    ];
    for (const f of filters) {
      const filter = { limit: 50, after: null, ...f };
      const mine = await listConversations(db, filter);
      expect(mine.length, JSON.stringify(f)).toBeGreaterThan(0);
      expect(mine, JSON.stringify(f)).toStrictEqual(await conversationListQuery(db, filter));
    }
  });

  it('refuses a cursor from another list, and a page size over the bound', async () => {
    const caller = t.caller('agent');
    const deals = await caller.crm.contacts.list({ limit: 1, sort: 'score' });
    expect(await codeOf(caller.conversations.list({ cursor: deals.nextCursor ?? 'eA' }))).toBe('BAD_REQUEST');
    expect(await codeOf(caller.conversations.list({ cursor: 'not-a-cursor' }))).toBe('BAD_REQUEST');
    expect(await codeOf(caller.conversations.list({ limit: 101 }))).toBe('BAD_REQUEST');
  });

  it('needs a key', async () => {
    expect(await codeOf(t.caller(null).conversations.list({}))).toBe('UNAUTHORIZED');
  });
});

describe('conversations.get and messages', () => {
  it('returns the conversation, its contact, owner history and open handoff', async () => {
    await t.caller('agent').bot.setEnabled({ conversationId: ids.bob, enabled: true, reason: 'answered' });
    await t.caller('admin').bot.setEnabled({ conversationId: ids.bob, enabled: false, reason: 'again' });
    const detail = await t.caller('agent').conversations.get({ id: ids.bob });
    expect(detail.conversation.id).toBe(ids.bob);
    expect(detail.contact.name).toBe('Bob Builder');
    expect(detail.ownerHistory.map((h) => [h.toOwner, h.actorType, h.reason])).toEqual([
      ['human', 'apiKey', 'again'],
      ['bot', 'apiKey', 'answered'],
    ]);
    // Giving the conversation back to the bot closed the handoff (its task is done); the later
    // take-over by hand opens none.
    expect(detail.openHandoff).toBeNull();
    expect(await codeOf(t.caller('agent').conversations.get({ id: MISSING_ID }))).toBe('NOT_FOUND');
    expect(await codeOf(t.caller('agent').conversations.get({ id: 'nope' }))).toBe('BAD_REQUEST');
  });

  it('pages messages newest first with statuses and AI usage', async () => {
    const caller = t.caller('agent');
    const first = await caller.conversations.messages({ conversationId: ids.ada, limit: 2 });
    expect(first.items.map((m) => m.body)).toEqual([
      'Great, what about the analytical engine?',
      'We ship worldwide.',
    ]);
    expect(first.items[1]).toMatchObject({
      direction: 'outbound',
      author: 'bot',
      status: 'read',
      ai: { model: 'gpt-test', promptTokens: 120, completionTokens: 30, latencyMs: 850 },
    });
    const second = await caller.conversations.messages({
      conversationId: ids.ada,
      limit: 2,
      cursor: first.nextCursor,
    });
    expect(second.items.map((m) => m.body)).toEqual(['Do you ship engines abroad?']);
    expect(second.nextCursor).toBeNull();
    expect(await codeOf(caller.conversations.messages({ conversationId: MISSING_ID }))).toBe('NOT_FOUND');
  });
});

describe('conversations.search', () => {
  it('finds contacts by name and phone, and messages by text', async () => {
    const caller = t.caller('agent');
    const byText = await caller.conversations.search({ q: 'analytical' });
    expect(byText.messages.items.map((m) => [m.conversationId, m.body])).toEqual([
      [ids.ada, 'Great, what about the analytical engine?'],
    ]);
    expect(byText.messages.items[0]!.contact.name).toBe('Ada Lovelace');
    const byName = await caller.conversations.search({ q: 'Ada' });
    expect(byName.contacts.map((c) => [c.name, c.conversationId])).toEqual([['Ada Lovelace', ids.ada]]);
    const byPhone = await caller.conversations.search({ q: '555 0101' });
    expect(byPhone.contacts.map((c) => c.phone)).toEqual(['+14155550101']);
  });

  it('pages message hits with a cursor; contacts come with the first page only', async () => {
    const caller = t.caller('agent');
    const first = await caller.conversations.search({ q: 'filler', limit: 5 });
    expect(first.contacts.length).toBeGreaterThan(0);
    expect(first.messages.items).toHaveLength(5);
    const second = await caller.conversations.search({
      q: 'filler',
      limit: 5,
      cursor: first.messages.nextCursor,
    });
    expect(second.contacts).toEqual([]);
    const third = await caller.conversations.search({
      q: 'filler',
      limit: 5,
      cursor: second.messages.nextCursor,
    });
    const bodies = [...first.messages.items, ...second.messages.items, ...third.messages.items].map(
      (m) => m.body,
    );
    expect(new Set(bodies).size).toBe(12);
    expect(third.messages.nextCursor).toBeNull();
  });

  it('matches contacts with the same pattern as the contact list', async () => {
    const dialect = new PgDialect({ casing: 'snake_case' });
    for (const q of ['Ada', '555 0101', '+1 (415) 555', '12', '100%_', 'o\\x', '41 5a']) {
      expect(contactSearchPattern(q), q).toBe(dialect.sqlToQuery(contactSearchCondition(q)).params[0]);
    }
    const caller = t.caller('agent');
    expect((await caller.conversations.search({ q: 'Bob' })).contacts.map((c) => c.name)).toEqual([
      'Bob Builder',
    ]);
    expect((await caller.conversations.search({ q: '(415) 555-0101' })).contacts.map((c) => c.name)).toEqual([
      'Ada Lovelace',
    ]);
  });

  it('needs at least 2 characters', async () => {
    expect(await codeOf(t.caller('agent').conversations.search({ q: 'a' }))).toBe('BAD_REQUEST');
  });
});

describe('conversations.markRead', () => {
  it('clears the unread count once and logs one conversation.updated event', async () => {
    const caller = t.caller('agent');
    const { sql } = t.runtime.database;
    const count = async () =>
      (
        await sql`select count(*)::int as n from events where type = 'conversation.updated' and conversation_id = ${ids.ada}`
      )[0]!.n;
    const before = await count();
    expect(await caller.conversations.markRead({ conversationId: ids.ada })).toEqual({
      conversationId: ids.ada,
      changed: true,
    });
    expect(await caller.conversations.markRead({ conversationId: ids.ada })).toMatchObject({
      changed: false,
    });
    expect(await count()).toBe(before + 1);
    const row = (await caller.conversations.list({ q: 'lovelace' })).items[0]!;
    expect(row.unreadCount).toBe(0);
    expect(await codeOf(caller.conversations.markRead({ conversationId: MISSING_ID }))).toBe('NOT_FOUND');
    expect(await codeOf(t.caller(null).conversations.markRead({ conversationId: ids.ada }))).toBe(
      'UNAUTHORIZED',
    );
  });
});

describe('over HTTP', () => {
  it('serves list, get and search in one batch with an agent key', async () => {
    const key = await t.key('agent');
    const app = await t.app();
    const input = JSON.stringify({
      0: { json: { limit: 2, owner: 'bot' } },
      1: { json: { id: ids.ada } },
      2: { json: { q: 'engine' } },
    });
    const res = await app.inject({
      url: `/trpc/conversations.list,conversations.get,conversations.search?batch=1&input=${encodeURIComponent(input)}`,
      headers: { authorization: `Bearer ${key}` },
    });
    expect(res.statusCode).toBe(200);
    const [list, get, search] = res.json();
    expect(list.result.data.json.items).toHaveLength(2);
    expect(get.result.data.json.contact.name).toBe('Ada Lovelace');
    expect(search.result.data.json.messages.items.length).toBeGreaterThan(0);
  });

  it('pages messages and marks a conversation read', async () => {
    const key = await t.key('agent');
    const app = await t.app();
    const res = await app.inject({
      url: `/trpc/conversations.messages?input=${encodeURIComponent(JSON.stringify({ json: { conversationId: ids.bob, limit: 1 } }))}`,
      headers: { authorization: `Bearer ${key}` },
    });
    expect(res.statusCode).toBe(200);
    expect(res.json().result.data.json.items[0].body).toBe('I want to talk to a person');
    const read = await app.inject({
      method: 'POST',
      url: '/trpc/conversations.markRead',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      payload: JSON.stringify({ json: { conversationId: ids.bob } }),
    });
    expect(read.statusCode).toBe(200);
    expect(read.json().result.data.json).toEqual({ conversationId: ids.bob, changed: false });
  });

  it('answers 404 for a missing conversation and 401 without a key', async () => {
    const key = await t.key('agent');
    const app = await t.app();
    const url = `/trpc/conversations.get?input=${encodeURIComponent(JSON.stringify({ json: { id: MISSING_ID } }))}`;
    expect((await app.inject({ url, headers: { authorization: `Bearer ${key}` } })).statusCode).toBe(404);
    expect((await app.inject({ url })).statusCode).toBe(401);
  });
});
