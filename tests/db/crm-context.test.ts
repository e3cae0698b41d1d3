import { describe, expect, it } from 'vitest';
import { activities, deals, tasks } from '../../drizzle';
import { crmContext } from '../../server/db/queries/contacts';
import { promptContext } from '../../server/db/queries/prompt-context';
import { useTestDatabase } from '../helpers/runtime';
import { seedConversation } from '../helpers/seed';

/**
 * The CRM context the bot's prompt is built from, read in one statement: only open deals (not won,
 * lost or deleted) with their value as written, open tasks with their due time, and the five newest
 * activities, newest first, with the types the prompt formats.
 */
const database = useTestDatabase();
const db = () => database().db;

describe('crmContext', () => {
  it('reads open deals, open tasks and the newest activities of the contact only', async () => {
    const { contact } = await seedConversation(db());
    const other = await seedConversation(db());
    await db()
      .insert(deals)
      .values([
        { contactId: contact.id, title: 'Oak desk', stage: 'proposal', value: '1200.50', currency: 'EUR' },
        { contactId: contact.id, title: 'Won chair', stage: 'won', value: '90' },
        { contactId: contact.id, title: 'Lost lamp', stage: 'lost', value: '10' },
        { contactId: contact.id, title: 'Deleted sofa', stage: 'lead', value: '5', deletedAt: new Date() },
        { contactId: other.contact.id, title: 'Not theirs', stage: 'lead', value: '1' },
      ]);
    const due = new Date('2030-01-02T03:04:05.678Z');
    await db()
      .insert(tasks)
      .values([
        { contactId: contact.id, title: 'Call back', dueAt: due },
        { contactId: contact.id, title: 'No date' },
        { contactId: contact.id, title: 'Done already', status: 'done' },
        { contactId: other.contact.id, title: 'Not theirs either' },
      ]);
    const base = Date.parse('2026-01-01T00:00:00.000Z');
    await db()
      .insert(activities)
      .values(
        Array.from({ length: 7 }, (_, i) => ({
          contactId: contact.id,
          type: 'note',
          summary: `note ${i}`,
          occurredAt: new Date(base + i * 60_000),
        })),
      );

    const crm = await crmContext(db(), contact.id);

    expect(crm.openDeals).toEqual([
      { title: 'Oak desk', stage: 'proposal', value: '1200.50', currency: 'EUR' },
    ]);
    expect(crm.pendingTasks).toHaveLength(2);
    expect(crm.pendingTasks).toEqual(
      expect.arrayContaining([
        { title: 'Call back', dueAt: due },
        { title: 'No date', dueAt: null },
      ]),
    );
    expect(crm.pendingTasks.find((x) => x.title === 'Call back')!.dueAt).toBeInstanceOf(Date);
    expect(crm.recent.map((a) => a.summary)).toEqual(['note 6', 'note 5', 'note 4', 'note 3', 'note 2']);
    expect(crm.recent[0]!.occurredAt).toEqual(new Date(base + 6 * 60_000));
  });

  it('gives empty lists for a contact with no CRM records', async () => {
    const { contact } = await seedConversation(db());
    expect(await crmContext(db(), contact.id)).toEqual({ openDeals: [], pendingTasks: [], recent: [] });
  });
});

/**
 * The prompt's reads besides the burst in one statement: the history before the burst (newest first,
 * at most the limit, failed and unsent messages left out, this conversation only) and the CRM record.
 */
describe('promptContext', () => {
  it('reads the history before a point, newest first, with the CRM record', async () => {
    const base = Date.parse('2026-03-01T10:00:00.000Z');
    const at = (i: number) => new Date(base + i * 1000);
    const { contact, conversation } = await seedConversation(db(), {
      messages: [
        { direction: 'inbound', body: 'oldest', at: at(0) },
        { direction: 'outbound', body: 'bot answer', at: at(1) },
        { direction: 'outbound', body: 'never sent', at: at(2), status: 'failed' },
        { direction: 'outbound', body: 'no token', at: at(3), status: 'not_configured' },
        { direction: 'inbound', body: 'quote "x" \\ {y}', at: at(4) },
        { direction: 'outbound', body: 'agent words', author: 'agent', at: at(5) },
        { direction: 'inbound', body: 'the burst', at: at(6) },
      ],
    });
    await seedConversation(db(), { messages: [{ direction: 'inbound', body: 'other customer', at: at(2) }] });
    await db().insert(tasks).values({ contactId: contact.id, title: 'Call back' });

    const all = await promptContext(db(), {
      conversationId: conversation.id,
      contactId: contact.id,
      before: at(6),
      historyLimit: 10,
    });
    expect(all.history).toEqual([
      { author: 'agent', direction: 'outbound', body: 'agent words', type: 'text' },
      { author: 'contact', direction: 'inbound', body: 'quote "x" \\ {y}', type: 'text' },
      { author: 'bot', direction: 'outbound', body: 'bot answer', type: 'text' },
      { author: 'contact', direction: 'inbound', body: 'oldest', type: 'text' },
    ]);
    expect(all.crm).toEqual(await crmContext(db(), contact.id));
    expect(all.crm.pendingTasks.map((t) => t.title)).toEqual(['Call back']);

    const two = await promptContext(db(), {
      conversationId: conversation.id,
      contactId: contact.id,
      before: at(6),
      historyLimit: 2,
    });
    expect(two.history.map((m) => m.body)).toEqual(['agent words', 'quote "x" \\ {y}']);
  });

  it('gives an empty history and empty CRM lists for a new conversation', async () => {
    const { contact, conversation } = await seedConversation(db());
    expect(
      await promptContext(db(), {
        conversationId: conversation.id,
        contactId: contact.id,
        before: new Date(),
        historyLimit: 20,
      }),
    ).toEqual({ history: [], crm: { openDeals: [], pendingTasks: [], recent: [] } });
  });
});
