import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestRuntime, type TestRuntime } from '../helpers/runtime';
import { codeOf, MISSING_ID, minutesAgo, seedConversation } from '../helpers/seed';

let t: TestRuntime;
beforeAll(async () => {
  t = await createTestRuntime();
});
afterAll(() => t?.close());

const agent = () => t.caller('agent');
const admin = () => t.caller('admin');

describe('crm.contacts list', () => {
  let ids: { zoe: string; amy: string; max: string };
  beforeAll(async () => {
    const c = agent().crm.contacts;
    const zoe = await c.create({ phone: '+14155550201', name: 'Zoe', tags: ['vip'], source: 'referral' });
    const amy = await c.create({ phone: '+14155550202', name: 'amy', leadStatus: 'qualified' });
    const max = await c.create({
      phone: '+14155550203',
      name: 'Max',
      email: 'max@example.com',
      tags: ['vip'],
    });
    await t.runtime.database.sql`update contacts set lead_score = 80 where id = ${zoe.id}`;
    await t.runtime.database
      .sql`update contacts set lead_score = 50, opted_out_at = now() where id = ${max.id}`;
    await t.runtime.database.sql`update contacts set last_inbound_at = now() where id = ${amy.id}`;
    ids = { zoe: zoe.id, amy: amy.id, max: max.id };
  });

  it('sorts by recent activity, score or name, and filters', async () => {
    const list = async (f: Parameters<ReturnType<TestRuntime['caller']>['crm']['contacts']['list']>[0]) =>
      (await agent().crm.contacts.list(f)).items.map((i) => i.id);
    expect((await list({ sort: 'recent' }))[0]).toBe(ids.amy);
    expect(await list({ sort: 'score', limit: 2 })).toEqual([ids.zoe, ids.max]);
    expect(await list({ sort: 'name' })).toEqual([ids.amy, ids.max, ids.zoe]);
    expect(await list({ tag: 'vip', sort: 'name' })).toEqual([ids.max, ids.zoe]);
    expect(await list({ leadStatus: 'qualified' })).toEqual([ids.amy]);
    expect(await list({ minScore: 40, maxScore: 60 })).toEqual([ids.max]);
    expect(await list({ source: 'referral' })).toEqual([ids.zoe]);
    expect(await list({ optedOut: true })).toEqual([ids.max]);
    expect(await list({ q: 'example.com' })).toEqual([ids.max]);
    expect(await list({ q: '0202' })).toEqual([ids.amy]);
  });

  it('pages by name with a cursor bound to its sort', async () => {
    const first = await agent().crm.contacts.list({ sort: 'name', limit: 2 });
    const second = await agent().crm.contacts.list({ sort: 'name', limit: 2, cursor: first.nextCursor });
    expect([...first.items, ...second.items].map((c) => c.name)).toEqual(['amy', 'Max', 'Zoe']);
    expect(second.nextCursor).toBeNull();
    expect(await codeOf(agent().crm.contacts.list({ sort: 'score', cursor: first.nextCursor }))).toBe(
      'BAD_REQUEST',
    );
  });
});

describe('crm.contacts get, create, update, delete', () => {
  it('get returns the contact with conversation, deals, open tasks and recent activities', async () => {
    const { contact, conversation } = await seedConversation(t.runtime.database.db, {
      messages: [{ direction: 'inbound', body: 'hi', at: minutesAgo(3) }],
      unread: 1,
    });
    const deal = await agent().crm.deals.create({
      contactId: contact.id,
      title: 'Engines',
      value: '1200.50',
    });
    const task = await agent().crm.tasks.create({ title: 'Call back', contactId: contact.id });
    await agent()
      .crm.tasks.create({ title: 'Done already', contactId: contact.id })
      .then((x) => agent().crm.tasks.complete({ id: x.id }));
    const detail = await agent().crm.contacts.get({ id: contact.id });
    expect(detail.conversation).toMatchObject({ id: conversation.id, owner: 'bot', unreadCount: 1 });
    expect(detail.deals.map((d) => [d.id, d.value])).toEqual([[deal.id, '1200.50']]);
    expect(detail.openTasks.map((x) => x.id)).toEqual([task.id]);
    expect(detail.recentActivities.map((a) => a.type)).toEqual(['task_completed', 'deal_created']);
    expect(await codeOf(agent().crm.contacts.get({ id: MISSING_ID }))).toBe('NOT_FOUND');
  });

  it('create normalises the phone and answers CONFLICT for an existing one', async () => {
    const created = await agent().crm.contacts.create({ phone: '(415) 555-0210', name: 'New' });
    expect(created.phone).toBe('+14155550210');
    expect(created.source).toBe('manual');
    expect(await codeOf(agent().crm.contacts.create({ phone: '+1 415 555 0210' }))).toBe('CONFLICT');
    expect(await codeOf(agent().crm.contacts.create({ phone: '12' }))).toBe('BAD_REQUEST');
    expect(await codeOf(t.caller(null).crm.contacts.create({ phone: '+14155550299' }))).toBe('UNAUTHORIZED');
  });

  it('update changes only the given fields, clears with null, and records a status change', async () => {
    const c = await agent().crm.contacts.create({
      phone: '+14155550211',
      name: 'Before',
      email: 'before@example.com',
      company: 'Acme',
      notes: 'keep me',
    });
    const updated = await agent().crm.contacts.update({
      id: c.id,
      name: 'After',
      email: null,
      leadStatus: 'contacted',
    });
    expect(updated).toMatchObject({
      name: 'After',
      email: null,
      company: 'Acme',
      notes: 'keep me',
      leadStatus: 'contacted',
    });
    const activities = await agent().crm.activities.list({ contactId: c.id });
    expect(activities.items.map((a) => [a.type, a.metadata, a.actorType])).toEqual([
      ['lead_status_changed', { from: 'new', to: 'contacted' }, 'apiKey'],
    ]);
  });

  it('update refuses fields that are not listed (no mass assignment)', async () => {
    const c = await agent().crm.contacts.create({ phone: '+14155550212' });
    const sneaky = { id: c.id, leadScore: 100, deletedAt: null } as unknown as { id: string };
    expect(await codeOf(agent().crm.contacts.update(sneaky))).toBe('BAD_REQUEST');
    expect((await agent().crm.contacts.get({ id: c.id })).leadScore).toBe(0);
  });

  it('a phone change is normalised; CONFLICT when another contact has it; NOT_FOUND for a missing id', async () => {
    const one = await agent().crm.contacts.create({ phone: '+14155550213' });
    await agent().crm.contacts.create({ phone: '+14155550214' });
    expect((await agent().crm.contacts.update({ id: one.id, phone: '415.555.0215' })).phone).toBe(
      '+14155550215',
    );
    expect(await codeOf(agent().crm.contacts.update({ id: one.id, phone: '+14155550214' }))).toBe('CONFLICT');
    expect(await codeOf(agent().crm.contacts.update({ id: one.id, phone: 'abc12' }))).toBe('BAD_REQUEST');
    expect(await codeOf(agent().crm.contacts.update({ id: MISSING_ID, name: 'x' }))).toBe('NOT_FOUND');
  });

  it('delete is for admins, soft, and keeps the phone taken', async () => {
    const c = await agent().crm.contacts.create({ phone: '+14155550216' });
    expect(await codeOf(agent().crm.contacts.delete({ id: c.id }))).toBe('FORBIDDEN');
    expect(await admin().crm.contacts.delete({ id: c.id })).toEqual({ ok: true });
    expect(await codeOf(agent().crm.contacts.get({ id: c.id }))).toBe('NOT_FOUND');
    expect((await agent().crm.contacts.list({ q: '0216' })).items).toEqual([]);
    expect(await codeOf(admin().crm.contacts.delete({ id: c.id }))).toBe('NOT_FOUND');
    expect(await codeOf(agent().crm.contacts.create({ phone: '+14155550216' }))).toBe('CONFLICT');
    const [row] = await t.runtime.database.sql`select deleted_at from contacts where id = ${c.id}`;
    expect(row!.deleted_at).not.toBeNull();
  });
});

describe('crm.contacts tags', () => {
  it('adds and removes tags per contact, reporting updated, unchanged and not found', async () => {
    const a = await agent().crm.contacts.create({ phone: '+14155550220', tags: ['x'] });
    const b = await agent().crm.contacts.create({ phone: '+14155550221', tags: ['vip'] });
    const added = await agent().crm.contacts.addTags({ ids: [a.id, b.id, MISSING_ID], tags: ['vip', 'vip'] });
    expect(added).toEqual({ updated: [a.id], unchanged: [b.id], notFound: [MISSING_ID] });
    expect((await agent().crm.contacts.get({ id: a.id })).tags).toEqual(['x', 'vip']);
    const removed = await agent().crm.contacts.removeTags({ ids: [a.id, b.id], tags: ['x'] });
    expect(removed).toEqual({ updated: [a.id], unchanged: [b.id], notFound: [] });
    expect((await agent().crm.contacts.get({ id: a.id })).tags).toEqual(['vip']);
    expect(await codeOf(agent().crm.contacts.addTags({ ids: [a.id], tags: [] }))).toBe('BAD_REQUEST');
  });
});

describe('crm.contacts import', () => {
  const csv = [
    'Name;Phone;Email;Tags;Lead status',
    'Ada;+1 415 555 0301;ada@example.com;vip|engines;qualified',
    'Bad phone;12345;;;',
    'No phone;;x@example.com;;',
    'Ada again;(415) 555-0301;;;',
    'Wrong status;+14155550302;;;hot',
    'Bad mail;+14155550303;not-mail;;',
    'Existing;+14155550399;;;',
    '"Quoted; name";4155550304;;;',
  ].join('\n');

  beforeAll(async () => {
    await agent().crm.contacts.create({ phone: '+14155550399', name: 'Already here' });
  });

  it('preview reports valid, invalid (with reason and line), duplicate and existing rows, and writes nothing', async () => {
    const preview = await agent().crm.contacts.import.preview({ text: csv });
    expect(preview.totals).toEqual({ rows: 8, valid: 2, invalid: 4, duplicate: 1, existing: 1 });
    expect(preview.rows.map((r) => [r.line, r.status])).toEqual([
      [2, 'valid'],
      [3, 'invalid'],
      [4, 'invalid'],
      [5, 'duplicate'],
      [6, 'invalid'],
      [7, 'invalid'],
      [8, 'existing'],
      [9, 'valid'],
    ]);
    expect(preview.rows[1]!.reason).toContain('not a valid phone number');
    expect(preview.rows[2]!.reason).toBe('phone is missing');
    expect(preview.rows[3]!.reason).toBe('same phone as line 2');
    expect(preview.rows[4]!.reason).toContain('lead status');
    expect(preview.rows[5]!.reason).toContain('email');
    expect(preview.rows[6]!.existingContactId).toEqual(expect.any(String));
    expect(preview.rows[7]).toMatchObject({ name: 'Quoted; name', phone: '+14155550304' });
    expect((await agent().crm.contacts.list({ q: '0301' })).items).toEqual([]);
  });

  it('commit creates the valid rows once; committing again creates nothing', async () => {
    const first = await agent().crm.contacts.import.commit({ text: csv, tags: ['imported'] });
    expect(first).toEqual({ created: 2, skippedExisting: 0, existing: 1, duplicate: 1, invalid: 4 });
    const ada = (await agent().crm.contacts.list({ q: '0301' })).items[0]!;
    expect(ada).toMatchObject({
      name: 'Ada',
      email: 'ada@example.com',
      leadStatus: 'qualified',
      source: 'import',
      tags: ['vip', 'engines', 'imported'],
    });
    const again = await agent().crm.contacts.import.commit({ text: csv, tags: ['imported'] });
    expect(again).toMatchObject({ created: 0, existing: 3 });
  });

  it('reads pasted lines without a header as phone, name, email', async () => {
    const preview = await agent().crm.contacts.import.preview({ text: '+14155550310, Pat\n4155550311\n' });
    expect(preview.rows.map((r) => [r.status, r.phone, r.name])).toEqual([
      ['valid', '+14155550310', 'Pat'],
      ['valid', '+14155550311', null],
    ]);
  });

  it('a header without a phone column is a BAD_REQUEST naming the field', async () => {
    const err = await agent()
      .crm.contacts.import.preview({ text: 'name,email\nAda,ada@example.com' })
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'BAD_REQUEST' });
    expect(String((err as Error).message)).toContain('phone column');
  });
});

describe('crm.contacts timeline', () => {
  it('merges activities, deal changes and messages by time, newest first, and pages', async () => {
    const { contact } = await seedConversation(t.runtime.database.db, {
      messages: [
        { direction: 'inbound', body: 'first message', at: minutesAgo(60) },
        { direction: 'outbound', body: 'reply', at: minutesAgo(59) },
      ],
    });
    const deal = await agent().crm.deals.create({ contactId: contact.id, title: 'Deal', value: '10' });
    await agent().crm.deals.moveStage({ id: deal.id, stage: 'proposal' });
    await agent().crm.activities.create({
      contactId: contact.id,
      type: 'note',
      summary: 'Met at the fair',
      occurredAt: minutesAgo(30),
    });
    const all = await agent().crm.contacts.timeline({ contactId: contact.id, limit: 100 });
    expect(all.items.map((i) => [i.kind, i.type])).toEqual([
      ['deal', 'deal_stage_changed'],
      ['deal', 'deal_created'],
      ['activity', 'note'],
      ['message', 'outbound'],
      ['message', 'inbound'],
    ]);
    const pages: string[] = [];
    let cursor: string | null = null;
    do {
      const page: typeof all = await agent().crm.contacts.timeline({
        contactId: contact.id,
        limit: 2,
        cursor,
      });
      pages.push(...page.items.map((i) => i.id));
      cursor = page.nextCursor;
    } while (cursor);
    expect(pages).toEqual(all.items.map((i) => i.id));
    expect(await codeOf(agent().crm.contacts.timeline({ contactId: MISSING_ID }))).toBe('NOT_FOUND');
  });
});

describe('over HTTP', () => {
  it('an agent creates and updates a contact; deleting it answers 403; an admin deletes it', async () => {
    const app = await t.app();
    const agentKey = await t.key('agent');
    const adminKey = await t.key('admin');
    const post = (path: string, input: unknown, key: string) =>
      app.inject({
        method: 'POST',
        url: `/trpc/${path}`,
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        payload: JSON.stringify({ json: input }),
      });
    const created = await post('crm.contacts.create', { phone: '+14155550401', name: 'Http' }, agentKey);
    expect(created.statusCode).toBe(200);
    const id = created.json().result.data.json.id;
    const updated = await post('crm.contacts.update', { id, company: 'Web Co' }, agentKey);
    expect(updated.json().result.data.json.company).toBe('Web Co');
    const bad = await post('crm.contacts.update', { id, email: 'nope' }, agentKey);
    expect(bad.statusCode).toBe(400);
    expect(bad.json().error.json.data.zodError.fieldErrors.email).toBeDefined();
    expect((await post('crm.contacts.delete', { id }, agentKey)).statusCode).toBe(403);
    expect((await post('crm.contacts.delete', { id }, adminKey)).statusCode).toBe(200);
    expect((await post('crm.contacts.create', { phone: '+14155550401' }, agentKey)).statusCode).toBe(409);
  });
});
