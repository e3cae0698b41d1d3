import { and, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { events, inboxMetrics, tasks } from '../../drizzle';
import { wakeConversation } from '../../server/services/inbox';
import { type PipelineHarness, sendsTo, startPipeline, textWebhook } from '../helpers/pipeline';
import { conversationOf, person, until } from './support';

let h: PipelineHarness;
beforeAll(async () => {
  h = await startPipeline({ REPLY_QUIET_MS: '0', BUSINESS_NAME: 'Acme Bikes' });
});
afterAll(() => h?.closeAll());

const db = () => h.runtime.database.db;

async function handedOff(phone: string) {
  await h.post(textWebhook({ phone, text: 'hello' }));
  await sendsTo(h, phone);
  await h.post(textWebhook({ phone, text: 'I want to talk to a human please' }));
  await sendsTo(h, phone, 2);
  return (await until(
    () => conversationOf(db(), phone),
    (c) => c?.owner === 'human',
  ))!;
}

describe('handoff lifecycle', () => {
  it('a handoff opens a turn; the agent reply answers it and reads the chat; the hand-back closes it', async () => {
    const maria = await person(db(), 'agent', 'Maria Lopez');
    const conv = await handedOff('14155550901');
    expect(conv).toMatchObject({ owner: 'human', status: 'open', assigneeId: null });
    expect(conv.waitingSince).not.toBeNull();
    const before = await h.caller('admin').stats.dashboard();
    expect(before.conversations.openHandoffs).toBeGreaterThanOrEqual(1);
    expect(before.conversations.waitingForHuman).toBeGreaterThanOrEqual(1);

    const agent = h.caller(maria);
    await agent.conversations.assign({ conversationId: conv.id, staffId: maria.id });
    await agent.conversations.sendMessage({ conversationId: conv.id, text: 'Hi, Maria here.' });
    const after = (await conversationOf(db(), '14155550901'))!;
    expect(after.unreadCount).toBe(0);
    expect(after.waitingSince).toBeNull();
    const page = await agent.conversations.messages({ conversationId: conv.id, limit: 10 });
    expect(page.items[0]!.sentBy).toEqual({ type: 'staff', id: maria.id, name: 'Maria Lopez' });
    expect(page.items.find((m) => m.direction === 'inbound')!.sentBy.type).toBe('customer');
    const [metric] = await db().select().from(inboxMetrics).where(eq(inboxMetrics.conversationId, conv.id));
    expect(metric).toMatchObject({ kind: 'first_response', staffId: maria.id });

    await agent.bot.handBack({ conversationId: conv.id });
    const open = await db()
      .select()
      .from(tasks)
      .where(and(eq(tasks.conversationId, conv.id), eq(tasks.type, 'handoff')));
    expect(open.map((t) => t.status)).toEqual(['done']);
    expect(open[0]!.completedByActor).toEqual({ type: 'staff', id: maria.id, name: 'Maria Lopez' });
    const stats = await h.caller('admin').stats.agents();
    const row = stats.agents.find((a) => a.staffId === maria.id)!;
    expect(row).toMatchObject({ conversationsHandled: 1, messagesSent: 1, load: { open: 1, pending: 0 } });
    expect(row.firstResponseMs.median).toBeGreaterThanOrEqual(0);
  });

  it('resolving hands back to the bot; a new customer message reopens the conversation', async () => {
    const admin = await person(db(), 'admin');
    const conv = await handedOff('14155550902');
    const res = await h
      .caller(admin)
      .conversations.setStatus({ conversationId: conv.id, status: 'resolved' });
    expect(res).toMatchObject({ status: 'resolved', changed: true });
    let c = (await conversationOf(db(), '14155550902'))!;
    expect(c).toMatchObject({ status: 'resolved', owner: 'bot', waitingSince: null });
    const [m] = await db()
      .select()
      .from(inboxMetrics)
      .where(and(eq(inboxMetrics.conversationId, conv.id), eq(inboxMetrics.kind, 'resolution')));
    expect(m!.staffId).toBe(admin.id);

    await h.post(textWebhook({ phone: '14155550902', text: 'one more thing' }));
    c = (await until(
      () => conversationOf(db(), '14155550902'),
      (x) => x?.status === 'open',
    ))!;
    expect(c.status).toBe('open');
    const statusEvents = await db()
      .select()
      .from(events)
      .where(and(eq(events.conversationId, conv.id), eq(events.type, 'conversation.status')));
    expect(statusEvents.map((e) => (e.payload as { status: string }).status)).toEqual(['resolved', 'open']);
  });

  it('a snooze wakes by itself through its job, and a stale wake-up does nothing', async () => {
    const conv = await handedOff('14155550903');
    const admin = h.caller('admin');
    await expect(
      admin.conversations.setStatus({
        conversationId: conv.id,
        status: 'snoozed',
        until: new Date(Date.now() - 1000),
      }),
    ).rejects.toMatchObject({ code: 'BAD_REQUEST' });
    await expect(
      admin.conversations.setStatus({ conversationId: conv.id, status: 'snoozed' }),
    ).rejects.toMatchObject({ code: 'BAD_REQUEST' });
    await expect(
      admin.conversations.setStatus({
        conversationId: conv.id,
        status: 'snoozed',
        until: new Date(Date.now() + 100 * 86_400_000),
      }),
    ).rejects.toMatchObject({ code: 'BAD_REQUEST' });
    const first = new Date(Date.now() + 60_000);
    await admin.conversations.setStatus({ conversationId: conv.id, status: 'snoozed', until: first });
    const soon = new Date(Date.now() + 2500);
    await admin.conversations.setStatus({ conversationId: conv.id, status: 'snoozed', until: soon });
    // The first snooze's wake-up, run early, finds a different snooze: nothing changes.
    expect(await wakeConversation(db(), { conversationId: conv.id, until: first.toISOString() })).toBe(false);
    expect((await conversationOf(db(), '14155550903'))!.status).toBe('snoozed');
    const woke = await until(
      () => conversationOf(db(), '14155550903'),
      (c) => c?.status === 'open',
      20_000,
    );
    expect(woke).toMatchObject({ status: 'open', snoozedUntil: null });
    expect(await wakeConversation(db(), { conversationId: conv.id, until: soon.toISOString() })).toBe(false);
  });
});

describe('assignment', () => {
  it('agents claim unassigned conversations and reassign their own; admins anything', async () => {
    const a = await person(db(), 'agent');
    const b = await person(db(), 'agent');
    const boss = await person(db(), 'admin');
    const conv = await handedOff('14155550904');
    const id = conv.id;
    await expect(
      h.caller(a).conversations.assign({ conversationId: id, staffId: b.id }),
    ).rejects.toMatchObject({
      code: 'FORBIDDEN',
    });
    expect(await h.caller(a).conversations.assign({ conversationId: id, staffId: a.id })).toMatchObject({
      changed: true,
      assignee: { id: a.id },
    });
    await expect(
      h.caller(b).conversations.assign({ conversationId: id, staffId: b.id }),
    ).rejects.toMatchObject({
      code: 'FORBIDDEN',
    });
    expect((await h.caller(a).conversations.assign({ conversationId: id, staffId: b.id })).changed).toBe(
      true,
    );
    expect(
      (await h.caller(boss).conversations.assign({ conversationId: id, staffId: null })).assignee,
    ).toBeNull();
    await expect(
      h
        .caller(boss)
        .conversations.assign({ conversationId: id, staffId: '00000000-0000-4000-8000-000000000077' }),
    ).rejects.toMatchObject({ code: 'BAD_REQUEST' });

    await h.caller(boss).conversations.assign({ conversationId: id, staffId: a.id });
    const mine = await h.caller(a).conversations.list({ assignee: 'me', limit: 50 });
    expect(mine.items.map((i) => i.id)).toContain(id);
    expect(mine.items.find((i) => i.id === id)!.assignee).toEqual({ id: a.id, name: a.name });
    const counts = await h.caller(a).conversations.inboxCounts();
    expect(counts.mine).toBe(1);
    await expect(h.caller('agent').conversations.list({ assignee: 'me' })).rejects.toMatchObject({
      code: 'BAD_REQUEST',
    });
  });
});

describe('notes, labels and canned responses', () => {
  it('notes are private, labels filter the list, canned responses fill their variables', async () => {
    const a = await person(db(), 'agent', 'Sam Agent');
    const conv = await handedOff('14155550905');
    const id = conv.id;
    const note = await h.caller(a).conversations.notes.add({ conversationId: id, body: 'VIP, be nice' });
    expect(note.author).toEqual({ type: 'staff', id: a.id, name: 'Sam Agent' });
    expect((await h.caller('agent').conversations.notes.list({ conversationId: id })).items).toHaveLength(1);
    await expect(
      h.caller('agent').conversations.notes.delete({ conversationId: id, noteId: note.id }),
    ).rejects.toMatchObject({ code: 'FORBIDDEN' });
    await h.caller(a).conversations.notes.delete({ conversationId: id, noteId: note.id });
    expect(h.wasender.sent.some((s) => s.text?.includes('VIP'))).toBe(false);

    const labels = await h
      .caller(a)
      .conversations.labels.add({ conversationId: id, labels: ['Billing', 'vip'] });
    expect(labels).toMatchObject({ labels: ['billing', 'vip'], changed: true });
    await expect(
      h.caller(a).conversations.labels.set({ conversationId: id, labels: ['bad label!'] }),
    ).rejects.toMatchObject({ code: 'BAD_REQUEST' });
    const byLabel = await h.caller(a).conversations.list({ label: 'billing', limit: 50 });
    expect(byLabel.items.map((i) => i.id)).toEqual([id]);
    await h.caller(a).conversations.labels.remove({ conversationId: id, labels: ['billing'] });
    expect((await h.caller(a).conversations.list({ label: 'billing' })).items).toHaveLength(0);

    await expect(
      h.caller('admin').cannedResponses.create({ code: 'hi', text: 'Hello {{nickname}}' }),
    ).rejects.toMatchObject({ code: 'BAD_REQUEST' });
    await expect(h.caller(a).cannedResponses.create({ code: 'x', text: 'y' })).rejects.toMatchObject({
      code: 'FORBIDDEN',
    });
    const canned = await h.caller('admin').cannedResponses.create({
      code: 'thanks',
      text: 'Thanks {{first_name}}! {{agent_name}} from {{business_name}}',
    });
    await expect(
      h.caller('admin').cannedResponses.create({ code: 'thanks', text: 'again' }),
    ).rejects.toMatchObject({
      code: 'CONFLICT',
    });
    await h.caller('admin').crm.contacts.update({ id: conv.contactId, name: 'Ana Maria Silva' });
    await h.caller(a).conversations.sendMessage({ conversationId: id, text: '/thanks' });
    await h.caller(a).conversations.sendMessage({ conversationId: id, cannedResponseId: canned.id });
    const sent = await sendsTo(h, '14155550905', 4);
    expect(sent.slice(2).map((s) => s.text)).toEqual([
      'Thanks Ana! Sam Agent from Acme Bikes',
      'Thanks Ana! Sam Agent from Acme Bikes',
    ]);
    expect((await h.caller('agent').cannedResponses.list()).items.map((c) => c.code)).toContain('thanks');
  });
});
