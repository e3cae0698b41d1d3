import { describe, expect, it } from 'vitest';
import { activities, deals, tasks } from '../../drizzle';
import { crmContext } from '../../server/db/queries/contacts';
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
