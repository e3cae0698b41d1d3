import { eq } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { earlyStatuses, messages } from '../../drizzle';
import { EVENTS_CHANNEL, eventsAfter, latestEventId } from '../../server/db/queries/events';
import {
  claimForSend,
  insertOutbound,
  markSent,
  markSentAlone,
  QUEUE_SEND,
} from '../../server/db/queries/messages';
import { useTestDatabase } from '../helpers/runtime';
import { seedConversation } from '../helpers/seed';

/**
 * Recording a part the gateway accepted: the row becomes sent (never moving back), its sent event is
 * written in the same statement only when it became sent, and the reply's next queued part is found.
 */
const database = useTestDatabase();
const db = () => database().db;

async function reply(conversationId: string, parts: number) {
  const replyGroup = crypto.randomUUID();
  const rows = await insertOutbound(
    db(),
    Array.from({ length: parts }, (_, i) => ({
      conversationId,
      author: 'bot' as const,
      body: `part ${i}`,
      status: 'queued' as const,
      replyGroup,
      partIndex: i,
    })),
  );
  return rows.sort((a, b) => a.partIndex - b.partIndex).map((r) => r.id);
}

describe('markSent', () => {
  it('marks a claimed part sent with its event, and names the next queued part', async () => {
    const { conversation } = await seedConversation(db(), { owner: 'bot' });
    const [first, second] = await reply(conversation.id, 2);
    expect(await claimForSend(db(), first!)).toBe('claimed');
    const before = await latestEventId(db());
    const at = new Date(Date.now() - 1000);
    const marked = await db().transaction((tx) => markSent(tx, first!, 'gw-1', at));
    expect(marked).toEqual({ status: 'sent', earlyKept: false, nextPartId: second });
    const [row] = await db()
      .select({ status: messages.status, sentAt: messages.sentAt, gw: messages.gatewayMessageId })
      .from(messages)
      .where(eq(messages.id, first!));
    expect(row).toEqual({ status: 'sent', sentAt: at, gw: 'gw-1' });
    const events = await eventsAfter(db(), { afterId: before, limit: 10 });
    expect(events.map((e) => [e.type, e.conversationId, e.payload])).toEqual([
      [
        'message.status',
        conversation.id,
        { type: 'message.status', conversationId: conversation.id, messageId: first, status: 'sent' },
      ],
    ]);
  });

  it('writes no event for a part a status webhook already moved further, nor for an unknown id', async () => {
    const { conversation } = await seedConversation(db(), { owner: 'bot' });
    const [only] = await reply(conversation.id, 1);
    await db().update(messages).set({ status: 'delivered' }).where(eq(messages.id, only!));
    const before = await latestEventId(db());
    const marked = await markSent(db(), only!, null, new Date());
    expect(marked).toEqual({ status: 'delivered', earlyKept: false, nextPartId: null });
    expect(await markSent(db(), crypto.randomUUID(), 'gw-x', new Date())).toBeNull();
    expect(await eventsAfter(db(), { afterId: before, limit: 10 })).toEqual([]);
  });

  it.runIf(process.env.DATABASE_URL)('notifies listeners of the sent event once committed', async () => {
    const { conversation } = await seedConversation(db(), { owner: 'bot' });
    const [only] = await reply(conversation.id, 1);
    expect(await claimForSend(db(), only!)).toBe('claimed');
    const heard: string[] = [];
    const listener = await database().sql.listen(EVENTS_CHANNEL, (payload) => heard.push(payload));
    try {
      await db().transaction((tx) => markSent(tx, only!, 'gw-2', new Date()));
      const newest = await latestEventId(db());
      await expect.poll(() => heard, { timeout: 5000 }).toContain(String(newest));
    } finally {
      await listener.unlisten();
    }
  });
});

/**
 * The usual record of a send, outside a transaction: the row, its event and the next part's job in one
 * statement; nothing at all when statuses for the gateway id came first (a transaction applies them).
 */
describe('markSentAlone', () => {
  async function jobsFor(id: string) {
    return database().sql<Array<{ delayed: boolean }>>`
      select start_after > created_on + interval '1 second' as delayed from pgboss.job
      where name = ${QUEUE_SEND} and data->>'messageId' = ${id}`;
  }
  async function statusOf(id: string) {
    const [row] = await db().select({ status: messages.status }).from(messages).where(eq(messages.id, id));
    return row?.status;
  }

  it('marks the part sent with its event and enqueues the next part after the delay', async () => {
    const { conversation } = await seedConversation(db(), { owner: 'bot' });
    const [first, second] = await reply(conversation.id, 2);
    expect(await claimForSend(db(), first!)).toBe('claimed');
    const before = await latestEventId(db());
    expect(await markSentAlone(database().db, first!, 'gw-alone-1', new Date(), 3000)).toBe('recorded');
    expect(await statusOf(first!)).toBe('sent');
    const events = await eventsAfter(db(), { afterId: before, limit: 10 });
    expect(events.map((e) => [e.type, (e.payload as { messageId: string }).messageId])).toEqual([
      ['message.status', first],
    ]);
    expect(await jobsFor(second!)).toEqual([{ delayed: true }]);
    expect(await jobsFor(first!)).toEqual([]);
  });

  it('enqueues nothing for the last part', async () => {
    const { conversation } = await seedConversation(db(), { owner: 'bot' });
    const [only] = await reply(conversation.id, 1);
    expect(await claimForSend(db(), only!)).toBe('claimed');
    expect(await markSentAlone(database().db, only!, 'gw-alone-2', new Date(), 0)).toBe('recorded');
    expect(await statusOf(only!)).toBe('sent');
    expect(await jobsFor(only!)).toEqual([]);
  });

  it('changes nothing when statuses for the gateway id came first, nor for an unknown id', async () => {
    const { conversation } = await seedConversation(db(), { owner: 'bot' });
    const [first, second] = await reply(conversation.id, 2);
    expect(await claimForSend(db(), first!)).toBe('claimed');
    await db().insert(earlyStatuses).values({ gatewayMessageId: 'gw-early', status: 'delivered' });
    const before = await latestEventId(db());
    expect(await markSentAlone(database().db, first!, 'gw-early', new Date(), 0)).toBe('early-statuses');
    expect(await statusOf(first!)).toBe('pending');
    expect(await eventsAfter(db(), { afterId: before, limit: 10 })).toEqual([]);
    expect(await jobsFor(second!)).toEqual([]);
    // The transaction's record still sees them.
    const marked = await db().transaction((tx) => markSent(tx, first!, 'gw-early', new Date()));
    expect(marked).toEqual({ status: 'sent', earlyKept: true, nextPartId: second });
    expect(await markSentAlone(database().db, crypto.randomUUID(), 'gw-none', new Date(), 0)).toBeNull();
  });
});
