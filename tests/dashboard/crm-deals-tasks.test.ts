import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestRuntime, type TestRuntime } from '../helpers/runtime';
import { codeOf, MISSING_ID, minutesAgo, seedConversation } from '../helpers/seed';

let t: TestRuntime;
let contactId: string;
let otherContactId: string;
beforeAll(async () => {
  t = await createTestRuntime();
  contactId = (await t.caller('agent').crm.contacts.create({ phone: '+14155550501', name: 'Buyer' })).id;
  otherContactId = (await t.caller('agent').crm.contacts.create({ phone: '+14155550502', name: 'Other' })).id;
});
afterAll(() => t?.close());

const agent = () => t.caller('agent');
const admin = () => t.caller('admin');

describe('crm.deals', () => {
  it('create keeps money exact, records an activity, and checks the contact', async () => {
    const deal = await agent().crm.deals.create({
      contactId,
      title: 'Big one',
      value: '12345678901.99',
      currency: 'eur',
    });
    expect(deal).toMatchObject({ value: '12345678901.99', currency: 'EUR', stage: 'lead', closedAt: null });
    const acts = await agent().crm.activities.list({ dealId: deal.id });
    expect(acts.items.map((a) => a.type)).toEqual(['deal_created']);
    expect(await codeOf(agent().crm.deals.create({ contactId: MISSING_ID, title: 'x' }))).toBe('NOT_FOUND');
    expect(await codeOf(agent().crm.deals.create({ contactId, title: 'x', value: '1.234' }))).toBe(
      'BAD_REQUEST',
    );
    expect(await codeOf(agent().crm.deals.create({ contactId, title: 'x', value: '-5' }))).toBe(
      'BAD_REQUEST',
    );
  });

  it('update changes listed fields only and clears nullable ones; the stage is not among them', async () => {
    const deal = await agent().crm.deals.create({ contactId, title: 'Upd', value: '10', probability: 40 });
    const updated = await agent().crm.deals.update({ id: deal.id, value: '20.5', probability: null });
    expect(updated).toMatchObject({ value: '20.50', probability: null, title: 'Upd' });
    const sneaky = { id: deal.id, stage: 'won' } as unknown as { id: string };
    expect(await codeOf(agent().crm.deals.update(sneaky))).toBe('BAD_REQUEST');
    expect(await codeOf(agent().crm.deals.update({ id: MISSING_ID, title: 'x' }))).toBe('NOT_FOUND');
  });

  it('moveStage records the move once, sets closedAt when won or lost, and clears it when reopened', async () => {
    const deal = await agent().crm.deals.create({ contactId, title: 'Move me' });
    const moved = await agent().crm.deals.moveStage({ id: deal.id, stage: 'won', note: 'signed' });
    expect(moved.changed).toBe(true);
    expect(moved.deal.closedAt).toBeInstanceOf(Date);
    expect((await agent().crm.deals.moveStage({ id: deal.id, stage: 'won' })).changed).toBe(false);
    const reopened = await agent().crm.deals.moveStage({ id: deal.id, stage: 'negotiation' });
    expect(reopened.deal.closedAt).toBeNull();
    const acts = await agent().crm.activities.list({ dealId: deal.id, type: 'deal_stage_changed' });
    expect(acts.items.map((a) => a.metadata)).toEqual([
      { from: 'won', to: 'negotiation', note: null },
      { from: 'lead', to: 'won', note: 'signed' },
    ]);
    expect(await codeOf(agent().crm.deals.moveStage({ id: MISSING_ID, stage: 'won' }))).toBe('NOT_FOUND');
  });

  it('list filters by stage, contact and value range, newest first', async () => {
    const other = await agent().crm.deals.create({
      contactId: otherContactId,
      title: 'Other deal',
      value: '500',
      stage: 'proposal',
    });
    const list = async (f: Parameters<ReturnType<TestRuntime['caller']>['crm']['deals']['list']>[0]) =>
      (await agent().crm.deals.list(f)).items.map((d) => d.id);
    expect(await list({ contactId: otherContactId })).toEqual([other.id]);
    expect(await list({ stage: 'proposal' })).toEqual([other.id]);
    expect(await list({ minValue: '400', maxValue: '600' })).toEqual([other.id]);
    const paged = await agent().crm.deals.list({ limit: 2 });
    const rest = await agent().crm.deals.list({ limit: 100, cursor: paged.nextCursor });
    expect(new Set([...paged.items, ...rest.items].map((d) => d.id)).size).toBe(
      paged.items.length + rest.items.length,
    );
  });

  it('pipeline sums per stage and currency exactly, as strings', async () => {
    const c = (await agent().crm.contacts.create({ phone: '+14155550503' })).id;
    await agent().crm.deals.create({ contactId: c, title: 'a', value: '0.10', stage: 'qualified' });
    await agent().crm.deals.create({ contactId: c, title: 'b', value: '0.20', stage: 'qualified' });
    const summary = await agent().crm.deals.pipeline();
    const qualified = summary.stages.find((s) => s.stage === 'qualified')!;
    expect(qualified).toEqual({ stage: 'qualified', count: 2, values: [{ currency: 'USD', value: '0.30' }] });
    expect(summary.stages.map((s) => s.stage)).toEqual([
      'lead',
      'qualified',
      'proposal',
      'negotiation',
      'won',
      'lost',
    ]);
    expect(summary.open.values.find((v) => v.currency === 'EUR')?.value).toBe('12345678901.99');
  });

  it('delete is for admins and soft', async () => {
    const deal = await agent().crm.deals.create({ contactId, title: 'Delete me', value: '1' });
    expect(await codeOf(agent().crm.deals.delete({ id: deal.id }))).toBe('FORBIDDEN');
    await admin().crm.deals.delete({ id: deal.id });
    expect((await agent().crm.deals.list({ limit: 100 })).items.map((d) => d.id)).not.toContain(deal.id);
    expect(await codeOf(admin().crm.deals.delete({ id: deal.id }))).toBe('NOT_FOUND');
  });
});

describe('crm.tasks', () => {
  it('create links to a contact, a deal (taking its contact) or a conversation, and checks they exist', async () => {
    const deal = await agent().crm.deals.create({ contactId: otherContactId, title: 'Linked' });
    const task = await agent().crm.tasks.create({ title: 'Follow up', dealId: deal.id, priority: 'high' });
    expect(task).toMatchObject({
      contactId: otherContactId,
      dealId: deal.id,
      status: 'open',
      createdBy: 'test-agent',
    });
    expect(await codeOf(agent().crm.tasks.create({ title: 'x', contactId: MISSING_ID }))).toBe('NOT_FOUND');
    expect(await codeOf(agent().crm.tasks.create({ title: 'x', dealId: MISSING_ID }))).toBe('NOT_FOUND');
    expect(await codeOf(agent().crm.tasks.create({ title: 'x', conversationId: MISSING_ID }))).toBe(
      'NOT_FOUND',
    );
    expect(await codeOf(agent().crm.tasks.create({ title: 'x', contactId, dealId: deal.id }))).toBe(
      'BAD_REQUEST',
    );
    expect(await codeOf(agent().crm.tasks.create({ title: '' }))).toBe('BAD_REQUEST');
  });

  it('lists by due time with overdue, today, upcoming, status and link filters', async () => {
    const c = (await agent().crm.contacts.create({ phone: '+14155550510' })).id;
    const { conversation } = await seedConversation(t.runtime.database.db, {});
    const overdue = await agent().crm.tasks.create({ title: 'late', contactId: c, dueAt: minutesAgo(120) });
    const soon = await agent().crm.tasks.create({ title: 'soon', contactId: c, dueAt: minutesAgo(-1) });
    const later = await agent().crm.tasks.create({
      title: 'later',
      contactId: c,
      dueAt: minutesAgo(-60 * 24 * 3),
    });
    const undated = await agent().crm.tasks.create({ title: 'whenever', contactId: c });
    const conv = await agent().crm.tasks.create({ title: 'conv', conversationId: conversation.id });
    const ids = async (f: Parameters<ReturnType<TestRuntime['caller']>['crm']['tasks']['list']>[0]) =>
      (await agent().crm.tasks.list(f)).items.map((x) => x.id);
    expect(await ids({ contactId: c })).toEqual([overdue.id, soon.id, later.id, undated.id]);
    expect(await ids({ contactId: c, due: 'overdue' })).toEqual([overdue.id]);
    expect(await ids({ contactId: c, due: 'upcoming' })).toEqual([soon.id, later.id]);
    expect(await ids({ contactId: c, due: 'today' })).toContain(overdue.id);
    expect(await ids({ contactId: c, due: 'today' })).not.toContain(later.id);
    expect(await ids({ conversationId: conversation.id })).toEqual([conv.id]);
    const first = await agent().crm.tasks.list({ contactId: c, limit: 3 });
    const second = await agent().crm.tasks.list({ contactId: c, limit: 3, cursor: first.nextCursor });
    expect([...first.items, ...second.items].map((x) => x.id)).toEqual([
      overdue.id,
      soon.id,
      later.id,
      undated.id,
    ]);
    await agent().crm.tasks.complete({ id: overdue.id });
    expect(await ids({ contactId: c, status: 'done' })).toEqual([overdue.id]);
    expect(await ids({ contactId: c, due: 'overdue' })).toEqual([]);
  });

  it('update, complete (with an activity), reopen, and admin-only delete', async () => {
    const task = await agent().crm.tasks.create({ title: 'Call', contactId, description: 'ring twice' });
    const updated = await agent().crm.tasks.update({ id: task.id, title: 'Call now', description: null });
    expect(updated).toMatchObject({ title: 'Call now', description: null });
    const done = await agent().crm.tasks.complete({ id: task.id });
    expect(done.status).toBe('done');
    expect(done.completedAt).toBeInstanceOf(Date);
    expect((await agent().crm.tasks.complete({ id: task.id })).completedAt).toEqual(done.completedAt);
    const acts = await agent().crm.activities.list({ contactId, type: 'task_completed' });
    expect(acts.items).toHaveLength(1);
    const reopened = await agent().crm.tasks.reopen({ id: task.id });
    expect(reopened).toMatchObject({ status: 'open', completedAt: null });
    expect(await codeOf(agent().crm.tasks.delete({ id: task.id }))).toBe('FORBIDDEN');
    expect(await admin().crm.tasks.delete({ id: task.id })).toEqual({ ok: true });
    expect(await codeOf(agent().crm.tasks.complete({ id: task.id }))).toBe('NOT_FOUND');
    expect(await codeOf(agent().crm.tasks.update({ id: task.id, title: 'x' }))).toBe('NOT_FOUND');
  });
});

describe('crm.activities', () => {
  it('create logs an activity with the caller as actor; list pages newest first', async () => {
    const c = (await agent().crm.contacts.create({ phone: '+14155550520' })).id;
    for (let i = 0; i < 3; i++) {
      await admin().crm.activities.create({
        contactId: c,
        type: 'note',
        summary: `note ${i}`,
        occurredAt: minutesAgo(10 - i),
      });
    }
    const first = await agent().crm.activities.list({ contactId: c, limit: 2 });
    expect(first.items.map((a) => a.summary)).toEqual(['note 2', 'note 1']);
    expect(first.items[0]).toMatchObject({ actorType: 'apiKey', actorId: 'test-admin' });
    const second = await agent().crm.activities.list({ contactId: c, limit: 2, cursor: first.nextCursor });
    expect(second.items.map((a) => a.summary)).toEqual(['note 0']);
    expect(
      await codeOf(agent().crm.activities.create({ contactId: MISSING_ID, type: 'note', summary: 'x' })),
    ).toBe('NOT_FOUND');
    expect(
      await codeOf(agent().crm.activities.create({ contactId: c, type: 'Bad Type', summary: 'x' })),
    ).toBe('BAD_REQUEST');
    const foreignDeal = await agent().crm.deals.create({ contactId: otherContactId, title: 'theirs' });
    expect(
      await codeOf(
        agent().crm.activities.create({ contactId: c, dealId: foreignDeal.id, type: 'note', summary: 'x' }),
      ),
    ).toBe('BAD_REQUEST');
  });
});

describe('over HTTP', () => {
  it('pipeline and tasks.list answer an agent; tasks.delete answers an agent 403', async () => {
    const app = await t.app();
    const key = await t.key('agent');
    const get = (path: string, input: unknown) =>
      app.inject({
        url: `/trpc/${path}?input=${encodeURIComponent(JSON.stringify({ json: input }))}`,
        headers: { authorization: `Bearer ${key}` },
      });
    const pipeline = await get('crm.deals.pipeline', undefined);
    expect(pipeline.statusCode).toBe(200);
    expect(pipeline.json().result.data.json.stages).toHaveLength(6);
    expect((await get('crm.tasks.list', { due: 'overdue' })).statusCode).toBe(200);
    const del = await app.inject({
      method: 'POST',
      url: '/trpc/crm.tasks.delete',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      payload: JSON.stringify({ json: { id: MISSING_ID } }),
    });
    expect(del.statusCode).toBe(403);
  });
});
