import { asc, gt, max } from 'drizzle-orm';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { events } from '../../drizzle';
import { type TAppEvent, WEBHOOK_EVENT_TYPES, ZAppEvent } from '../../server/contracts';
import { type PipelineHarness, sendsTo, startPipeline, textWebhook } from '../helpers/pipeline';
import { waitUntil } from '../helpers/reliability';
import { codeOf, MISSING_ID } from '../helpers/seed';
import { subscribeEvents } from '../helpers/sse';
import { type Receiver, startReceiver } from '../webhooks-out/receiver';

/**
 * Contact, deal, task and activity changes made through the router are written to the events log in
 * the change's own transaction: exactly one event per change, carrying ids and changed field names
 * only. The dashboards' SSE subscription yields them and outbound webhooks deliver them signed.
 */

let h: PipelineHarness;
beforeAll(async () => {
  h = await startPipeline({
    OUTBOUND_WEBHOOKS_ALLOW_PRIVATE: 'true',
    OUTBOUND_WEBHOOKS_POLL_MS: '50',
    OUTBOUND_WEBHOOKS_TIMEOUT_MS: '2000',
  });
});
afterAll(() => h?.closeAll());

const agent = () => h.caller('agent');
const admin = () => h.caller('admin');
const db = () => h.runtime.database.db;

async function lastEventId(): Promise<number> {
  const [row] = await db()
    .select({ id: max(events.id) })
    .from(events);
  return Number(row?.id ?? 0);
}

/** Runs a change and returns it with the events the log gained meanwhile (type and payload). */
async function withEvents<T>(change: () => Promise<T>): Promise<{ result: T; logged: TAppEvent[] }> {
  const mark = await lastEventId();
  const result = await change();
  const rows = await db().select().from(events).where(gt(events.id, mark)).orderBy(asc(events.id));
  for (const r of rows) expect(r.payload.type).toBe(r.type);
  return { result, logged: rows.map((r) => ZAppEvent.parse(r.payload)) };
}

/** Runs a change and returns the one event it logged (failing when there are none or several). */
async function oneEvent<T>(change: () => Promise<T>): Promise<{ result: T; event: TAppEvent }> {
  const { result, logged } = await withEvents(change);
  expect(logged).toHaveLength(1);
  return { result, event: logged[0]! };
}

let phoneSeq = 0;
const newPhone = () => `+1415555${String(1000 + phoneSeq++).padStart(4, '0')}`;

describe('contact events', () => {
  it('create, update, tags, lead status and delete each log exactly one event with the ids', async () => {
    const created = await oneEvent(() => agent().crm.contacts.create({ phone: newPhone(), name: 'Ada' }));
    const contactId = created.result.id;
    expect(created.event).toEqual({ type: 'contact.created', contactId });

    const updated = await oneEvent(() =>
      agent().crm.contacts.update({ id: contactId, name: 'Ada L.', notes: 'private note', email: null }),
    );
    // Only what changed (email was already empty), by name: no values, no whole record.
    expect(updated.event).toEqual({
      type: 'contact.updated',
      contactId,
      fields: ['name', 'notes'],
    });
    expect(JSON.stringify(updated.event)).not.toContain('private note');

    expect(
      (await oneEvent(() => agent().crm.contacts.addTags({ ids: [contactId], tags: ['vip'] }))).event,
    ).toEqual({ type: 'contact.updated', contactId, fields: ['tags'] });
    expect(
      (await oneEvent(() => agent().crm.contacts.removeTags({ ids: [contactId], tags: ['vip'] }))).event,
    ).toEqual({ type: 'contact.updated', contactId, fields: ['tags'] });

    expect(
      (await oneEvent(() => agent().leads.setStatus({ contactId, status: 'qualified', reason: 'budget ok' })))
        .event,
    ).toEqual({ type: 'contact.updated', contactId, fields: ['leadStatus'] });

    expect((await oneEvent(() => admin().crm.contacts.delete({ id: contactId }))).event).toEqual({
      type: 'contact.deleted',
      contactId,
    });
  });

  it('a call that changes nothing, or fails, logs nothing', async () => {
    const phone = newPhone();
    const c = await agent().crm.contacts.create({ phone, name: 'Same', tags: ['a'] });
    const other = await agent().crm.contacts.create({ phone: newPhone() });
    const quiet = async (change: () => Promise<unknown>) => {
      const { logged } = await withEvents(() => change().catch(() => null));
      expect(logged).toEqual([]);
    };
    await quiet(() => agent().crm.contacts.update({ id: c.id, name: 'Same', tags: ['a'] }));
    await quiet(() => agent().crm.contacts.addTags({ ids: [c.id], tags: ['a'] }));
    await quiet(() => agent().crm.contacts.removeTags({ ids: [c.id], tags: ['zzz'] }));
    await quiet(() => agent().leads.setStatus({ contactId: c.id, status: 'new' }));
    // Rolled back with the change: a phone already taken, a contact that does not exist.
    expect(await codeOf(agent().crm.contacts.update({ id: other.id, phone, name: 'X' }))).toBe('CONFLICT');
    await quiet(() => agent().crm.contacts.update({ id: other.id, phone, name: 'X' }));
    await quiet(() => agent().crm.contacts.create({ phone }));
    await quiet(() => agent().crm.contacts.update({ id: MISSING_ID, name: 'X' }));
    await quiet(() => admin().crm.contacts.delete({ id: MISSING_ID }));
    await admin().crm.contacts.delete({ id: other.id });
    await quiet(() => admin().crm.contacts.delete({ id: other.id }));
  });

  it('tags changed on several contacts log one event per contact that changed', async () => {
    const a = await agent().crm.contacts.create({ phone: newPhone(), tags: ['x'] });
    const b = await agent().crm.contacts.create({ phone: newPhone() });
    const { result, logged } = await withEvents(() =>
      agent().crm.contacts.addTags({ ids: [a.id, b.id, MISSING_ID], tags: ['x'] }),
    );
    expect(result.updated).toEqual([b.id]);
    expect(logged).toEqual([{ type: 'contact.updated', contactId: b.id, fields: ['tags'] }]);
  });

  it('an update names exactly the fields whose stored value changed, for any mix of fields', async () => {
    const phones = [newPhone(), newPhone()];
    const c = await agent().crm.contacts.create({ phone: phones[0]! });
    type State = Record<string, unknown>;
    let state: State = {
      phone: c.phone,
      name: c.name,
      email: c.email,
      company: c.company,
      notes: c.notes,
      source: c.source,
      tags: c.tags,
      leadStatus: c.leadStatus,
    };
    const patchArb = fc.record(
      {
        phone: fc.constantFrom(...phones),
        name: fc.constantFrom<string | null>('Ann', 'Bob', null),
        email: fc.constantFrom('ann@example.com', null),
        company: fc.constantFrom('Acme', null),
        notes: fc.constantFrom('note', null),
        source: fc.constantFrom('manual', 'web'),
        tags: fc.constantFrom<string[]>([], ['a'], ['a', 'b'], ['b', 'a'], ['a', 'a']),
        leadStatus: fc.constantFrom('new' as const, 'contacted' as const),
      },
      { requiredKeys: [] },
    );
    await fc.assert(
      fc.asyncProperty(patchArb, async (patch) => {
        const next: State = { ...state };
        for (const [k, v] of Object.entries(patch)) next[k] = k === 'tags' ? [...new Set(v as string[])] : v;
        const expected = Object.keys(patch).filter(
          (k) => JSON.stringify(next[k]) !== JSON.stringify(state[k]),
        );
        const { logged } = await withEvents(() => agent().crm.contacts.update({ id: c.id, ...patch }));
        state = next;
        if (!expected.length) {
          expect(logged).toEqual([]);
          return;
        }
        expect(logged).toHaveLength(1);
        expect(logged[0]).toEqual({ type: 'contact.updated', contactId: c.id, fields: expect.any(Array) });
        expect([...(logged[0] as { fields: string[] }).fields].sort()).toEqual(expected.sort());
      }),
      { numRuns: 60, examples: [[{}], [{ source: 'manual', tags: [] }]] },
    );
  });

  it('an import run logs one contact.imported with its counts; a run that creates nothing logs nothing', async () => {
    const [p1, p2, p3] = [newPhone(), newPhone(), newPhone()];
    await agent().crm.contacts.create({ phone: p3 });
    const csv = `phone,name\n${p1},One\n${p2},Two\n${p2},Again\n${p3},Exists\nnope,Bad\n`;
    const { result, event } = await oneEvent(() => agent().crm.contacts.import.commit({ text: csv }));
    expect(result.created).toBe(2);
    expect(event).toEqual({
      type: 'contact.imported',
      created: 2,
      skippedExisting: 0,
      existing: 1,
      duplicate: 1,
      invalid: 1,
    });
    const again = await withEvents(() => agent().crm.contacts.import.commit({ text: csv }));
    expect(again.result.created).toBe(0);
    expect(again.logged).toEqual([]);
  });

  it('STOP logs contact.opted_out and START contact.opted_in, with the contact and conversation', async () => {
    const phone = '14155550390';
    const mark = await lastEventId();
    await h.post(textWebhook({ phone, text: 'STOP' }));
    await sendsTo(h, phone);
    await h.post(textWebhook({ phone, text: 'START' }));
    await sendsTo(h, phone, 2);
    const contact = (await agent().crm.contacts.list({ q: phone })).items[0]!;
    const detail = await agent().crm.contacts.get({ id: contact.id });
    const rows = await db().select().from(events).where(gt(events.id, mark)).orderBy(asc(events.id));
    const optEvents = rows.map((r) => r.payload).filter((p) => String(p.type).startsWith('contact.'));
    expect(optEvents).toEqual([
      { type: 'contact.opted_out', contactId: contact.id, conversationId: detail.conversation!.id },
      { type: 'contact.opted_in', contactId: contact.id, conversationId: detail.conversation!.id },
    ]);
  });
});

describe('deal, task and activity events', () => {
  it('each change logs exactly one event with the ids', async () => {
    const contactId = (await agent().crm.contacts.create({ phone: newPhone() })).id;
    const created = await oneEvent(() =>
      agent().crm.deals.create({ contactId, title: 'Chairs', value: '10' }),
    );
    const dealId = created.result.id;
    expect(created.event).toEqual({ type: 'deal.created', dealId, contactId });

    const updated = await oneEvent(() =>
      agent().crm.deals.update({ id: dealId, title: 'Chairs', value: '25', probability: 50 }),
    );
    expect(updated.event).toEqual({
      type: 'deal.updated',
      dealId,
      contactId,
      fields: ['value', 'probability'],
    });
    expect((await withEvents(() => agent().crm.deals.update({ id: dealId, value: '25' }))).logged).toEqual(
      [],
    );

    const moved = await oneEvent(() => agent().crm.deals.moveStage({ id: dealId, stage: 'proposal' }));
    expect(moved.event).toEqual({
      type: 'deal.stage_changed',
      dealId,
      contactId,
      from: 'lead',
      to: 'proposal',
    });
    expect(
      (await withEvents(() => agent().crm.deals.moveStage({ id: dealId, stage: 'proposal' }))).logged,
    ).toEqual([]);

    const task = await oneEvent(() => agent().crm.tasks.create({ title: 'Call back', dealId }));
    const taskId = task.result.id;
    expect(task.event).toEqual({ type: 'task.created', taskId, contactId, dealId, conversationId: null });
    expect((await oneEvent(() => agent().crm.tasks.complete({ id: taskId }))).event).toEqual({
      type: 'task.completed',
      taskId,
      contactId,
      dealId,
      conversationId: null,
    });
    expect((await withEvents(() => agent().crm.tasks.complete({ id: taskId }))).logged).toEqual([]);
    const loose = await oneEvent(() => agent().crm.tasks.create({ title: 'No links' }));
    expect(loose.event).toEqual({
      type: 'task.created',
      taskId: loose.result.id,
      contactId: null,
      dealId: null,
      conversationId: null,
    });

    const act = await oneEvent(() =>
      agent().crm.activities.create({ contactId, dealId, type: 'call', summary: 'Talked about chairs' }),
    );
    expect(act.event).toEqual({
      type: 'activity.logged',
      activityId: act.result.id,
      activityType: 'call',
      contactId,
      dealId,
    });

    expect((await oneEvent(() => admin().crm.deals.delete({ id: dealId }))).event).toEqual({
      type: 'deal.deleted',
      dealId,
      contactId,
    });
    expect(
      (
        await withEvents(() =>
          admin()
            .crm.deals.delete({ id: dealId })
            .catch(() => null),
        )
      ).logged,
    ).toEqual([]);
  });
});

describe('subscribers', () => {
  it('every CRM event type can be subscribed to by outbound webhooks', () => {
    for (const type of [
      'contact.created',
      'contact.updated',
      'contact.deleted',
      'contact.opted_out',
      'contact.opted_in',
      'contact.imported',
      'deal.created',
      'deal.updated',
      'deal.stage_changed',
      'deal.deleted',
      'task.created',
      'task.completed',
      'activity.logged',
    ]) {
      expect(WEBHOOK_EVENT_TYPES).toContain(type);
    }
  });

  it('the dashboard subscription yields contact and deal events', async () => {
    const key = await h.key('agent');
    const s = subscribeEvents(h.baseUrl, key);
    try {
      await s.started;
      const c = await agent().crm.contacts.create({ phone: newPhone() });
      await agent().crm.contacts.update({ id: c.id, company: 'Acme' });
      const deal = await agent().crm.deals.create({ contactId: c.id, title: 'Desk' });
      await s.waitFor((r) => r.some((e) => e.data.type === 'deal.created'));
      const mine = s.received.map((r) => r.data).filter((e) => 'contactId' in e && e.contactId === c.id);
      for (const e of mine) expect(e.at).toBeInstanceOf(Date);
      expect(mine.map(({ at: _, ...e }) => e)).toEqual([
        { type: 'contact.created', contactId: c.id },
        { type: 'contact.updated', contactId: c.id, fields: ['company'] },
        { type: 'deal.created', contactId: c.id, dealId: deal.id },
      ]);
    } finally {
      s.unsubscribe();
    }
  });

  it('a webhook subscription to contact.updated receives a signed delivery of the change', async () => {
    let receiver: Receiver | undefined;
    try {
      receiver = await startReceiver();
      const sub = await admin().webhooks.create({ url: receiver.url, events: ['contact.updated'] });
      receiver.secret = sub.secret;
      await h.runtime.webhooks.fanOut();
      const c = await agent().crm.contacts.create({ phone: newPhone() });
      await agent().crm.contacts.update({ id: c.id, position: 'Buyer' });
      await waitUntil('the contact.updated delivery', () => receiver!.received.length > 0, {
        timeoutMs: 20_000,
      });
      // Give a wrongly delivered contact.created time to show up behind it.
      await h.runtime.webhooks.fanOut();
      expect(receiver.received).toHaveLength(1);
      const [got] = receiver.received;
      expect(got!.verified).not.toBeNull();
      expect(got!.verified).toMatchObject({
        type: 'contact.updated',
        data: { contactId: c.id, fields: ['position'], eventId: expect.any(Number) },
      });
      expect(got!.body).not.toContain(c.phone);
      await admin().webhooks.delete({ id: sub.id });
    } finally {
      await receiver?.close();
    }
  });
});
