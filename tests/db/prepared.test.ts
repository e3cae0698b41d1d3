import { eq, sql } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { contacts, conversations } from '../../drizzle';
import { setHandledThrough, touchConversation } from '../../server/db/queries/conversations';
import { builtOnce, rawOnce } from '../../server/db/queries/prepared';
import { useTestDatabase } from '../helpers/runtime';
import { seedConversation } from '../helpers/seed';

/**
 * Statements built once for the process run on the handle each call gives: on the pool they see
 * committed rows, inside a transaction they see (and write) that transaction's uncommitted rows, and
 * a rolled-back transaction leaves nothing behind.
 */
const database = useTestDatabase();
const db = () => database().db;

const byPhone = builtOnce((d) =>
  d
    .select({ id: contacts.id, name: contacts.name, createdAt: contacts.createdAt })
    .from(contacts)
    .where(eq(contacts.phone, sql.placeholder('phone'))),
);
const insertContact = builtOnce((d) =>
  d
    .insert(contacts)
    .values({ phone: sql.placeholder('phone'), name: sql.placeholder('name') })
    .returning({ id: contacts.id }),
);
const countByPrefix = rawOnce<Array<{ n: number }>>(
  () => sql`select count(*)::int as n from contacts where phone like ${sql.placeholder('prefix')} || '%'`,
);

describe('builtOnce and rawOnce', () => {
  it('run on the pool and map columns as Drizzle does', async () => {
    await insertContact(db()).execute({ phone: '+14155550101', name: 'Ana' });
    const [row] = await byPhone(db()).execute({ phone: '+14155550101' });
    expect(row?.name).toBe('Ana');
    expect(row?.createdAt).toBeInstanceOf(Date);
    expect(await countByPrefix(db()).execute({ prefix: '+1415555010' })).toEqual([{ n: 1 }]);
  });

  it("run inside a transaction on that transaction's connection", async () => {
    await db().transaction(async (tx) => {
      await insertContact(tx).execute({ phone: '+14155550102', name: 'Bo' });
      // The same statements, on the transaction: they see its uncommitted row.
      expect((await byPhone(tx).execute({ phone: '+14155550102' })).map((r) => r.name)).toEqual(['Bo']);
      expect(await countByPrefix(tx).execute({ prefix: '+14155550102' })).toEqual([{ n: 1 }]);
    });
    expect((await byPhone(db()).execute({ phone: '+14155550102' })).map((r) => r.name)).toEqual(['Bo']);
  });

  it('write nothing when the transaction rolls back', async () => {
    await expect(
      db().transaction(async (tx) => {
        await insertContact(tx).execute({ phone: '+14155550103', name: 'Cy' });
        throw new Error('roll back');
      }),
    ).rejects.toThrow('roll back');
    expect(await byPhone(db()).execute({ phone: '+14155550103' })).toEqual([]);
    expect(await countByPrefix(db()).execute({ prefix: '+14155550103' })).toEqual([{ n: 0 }]);
  });

  it('built-once updates still move updated_at on every call', async () => {
    const { conversation } = await seedConversation(db());
    const updatedAt = async () =>
      (
        await db()
          .select({ at: conversations.updatedAt })
          .from(conversations)
          .where(eq(conversations.id, conversation.id))
      )[0]!.at.getTime();
    const seen: number[] = [];
    for (const step of [
      () => touchConversation(db(), conversation.id, { at: new Date(), preview: 'one', inbound: false }),
      () => setHandledThrough(db(), conversation.id, new Date()),
      () => touchConversation(db(), conversation.id, { at: new Date(), preview: 'two', inbound: false }),
      () => setHandledThrough(db(), conversation.id, new Date()),
    ]) {
      await new Promise((r) => setTimeout(r, 5));
      await step();
      seen.push(await updatedAt());
    }
    for (let i = 1; i < seen.length; i++) expect(seen[i]).toBeGreaterThan(seen[i - 1]!);
  });
});

describe('recordEvents', () => {
  it('stores each event with its type, conversation, campaign and payload, in order', async () => {
    const { recordEvents, eventsAfter, latestEventId } = await import('../../server/db/queries/events');
    const conversationId = '00000000-0000-4000-8000-000000000001';
    const campaignId = '00000000-0000-4000-8000-000000000002';
    const before = await latestEventId(db());
    await db().transaction(async (tx) => {
      await recordEvents(tx, [
        { type: 'message.status', conversationId, messageId: conversationId, status: 'sent' },
        { type: 'campaign.progress', campaignId },
      ]);
      await recordEvents(tx, [
        { type: 'message.status', conversationId, messageId: campaignId, status: 'read' },
      ]);
    });
    const rows = await eventsAfter(db(), { afterId: before, limit: 10 });
    expect(rows.map((r) => [r.type, r.conversationId, r.payload])).toEqual([
      [
        'message.status',
        conversationId,
        { type: 'message.status', conversationId, messageId: conversationId, status: 'sent' },
      ],
      ['campaign.progress', null, { type: 'campaign.progress', campaignId }],
      [
        'message.status',
        conversationId,
        { type: 'message.status', conversationId, messageId: campaignId, status: 'read' },
      ],
    ]);
    const [campaign] = await database().sql<Array<{ campaign_id: string | null }>>`
      select campaign_id from events where id = ${rows[1]!.id}`;
    expect(campaign?.campaign_id).toBe(campaignId);
    expect(rows[0]!.id).toBeLessThan(rows[1]!.id);
  });

  it('refuse an update that would keep the time it was built at in updated_at', () => {
    const stale = builtOnce((d) =>
      d
        .update(conversations)
        .set({ lastMessagePreview: sql`${sql.placeholder('p')}::text` })
        .where(eq(conversations.id, sql.placeholder('id'))),
    );
    expect(() => stale(db())).toThrow(/must set updatedAt per call/);
  });
});
