import { asc, eq, sql } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { conversations, messages } from '../../drizzle';
import { eventsAfter, latestEventId } from '../../server/db/queries/events';
import { type OutboundReply, QUEUE_SEND, storeOutbound } from '../../server/db/queries/messages';
import { useTestDatabase } from '../helpers/runtime';
import { seedConversation } from '../helpers/seed';

/**
 * An outbound text stored in one statement: its part rows, the conversation's touch and handled mark,
 * one event per part and the first part's send job, all in the caller's transaction.
 */
const database = useTestDatabase();
const db = () => database().db;

function reply(conversationId: string, over: Partial<OutboundReply> = {}): OutboundReply {
  return {
    conversationId,
    author: 'bot',
    parts: ['first part', 'second part', 'third part'],
    status: 'queued',
    error: null,
    replyGroup: crypto.randomUUID(),
    ai: { model: 'test-model', promptTokens: 10, completionTokens: 5, latencyMs: 20 },
    actorId: null,
    actorType: null,
    actorName: null,
    campaignId: null,
    cloudTemplate: null,
    at: new Date(),
    agent: false,
    handledThrough: null,
    send: true,
    ...over,
  };
}

async function sendJobsFor(ids: string[]) {
  const rows = await database().sql<Array<{ messageId: string; state: string }>>`
    select data->>'messageId' as "messageId", state from pgboss.job
    where name = ${QUEUE_SEND} and data->>'messageId' = any(${ids}::text[])`;
  return rows;
}

async function conversationRow(id: string) {
  const [row] = await db()
    .select({
      preview: conversations.lastMessagePreview,
      lastMessageAt: conversations.lastMessageAt,
      lastAgentAt: conversations.lastAgentAt,
      handled: conversations.botHandledThrough,
    })
    .from(conversations)
    .where(eq(conversations.id, id));
  return row!;
}

describe('storeOutbound', () => {
  it('stores the parts in order, touches the conversation, writes their events and the first send job', async () => {
    const { conversation } = await seedConversation(db(), { owner: 'bot' });
    const before = await latestEventId(db());
    const at = new Date(Date.now() - 5000);
    const handledThrough = new Date(Date.now() - 2000);
    const r = reply(conversation.id, { at, handledThrough });
    const ids = await db().transaction((tx) => storeOutbound(tx, r));
    expect(ids).toHaveLength(3);

    const rows = await db()
      .select({
        id: messages.id,
        body: messages.body,
        partIndex: messages.partIndex,
        status: messages.status,
        replyGroup: messages.replyGroup,
        ai: messages.ai,
        direction: messages.direction,
        author: messages.author,
        type: messages.type,
      })
      .from(messages)
      .where(eq(messages.conversationId, conversation.id))
      .orderBy(asc(messages.partIndex));
    expect(rows.map((m) => m.id)).toEqual(ids);
    expect(rows.map((m) => [m.body, m.partIndex, m.status, m.direction, m.author, m.type])).toEqual([
      ['first part', 0, 'queued', 'outbound', 'bot', 'text'],
      ['second part', 1, 'queued', 'outbound', 'bot', 'text'],
      ['third part', 2, 'queued', 'outbound', 'bot', 'text'],
    ]);
    expect(new Set(rows.map((m) => m.replyGroup))).toEqual(new Set([r.replyGroup]));
    expect(rows.map((m) => m.ai)).toEqual([r.ai, null, null]);

    expect(await conversationRow(conversation.id)).toEqual({
      preview: 'third part',
      lastMessageAt: at,
      lastAgentAt: null,
      handled: handledThrough,
    });

    const events = await eventsAfter(db(), { afterId: before, limit: 10 });
    expect(events.map((e) => e.payload)).toEqual(
      ids.map((messageId) => ({
        type: 'message.created',
        conversationId: conversation.id,
        messageId,
        direction: 'outbound',
        author: 'bot',
      })),
    );
    expect(await sendJobsFor(ids)).toEqual([{ messageId: ids[0], state: 'created' }]);
  });

  it('never moves the handled mark back, and sets the agent time for an agent message', async () => {
    const { conversation } = await seedConversation(db(), { owner: 'human' });
    const later = new Date(Date.now() - 1000);
    await db()
      .update(conversations)
      .set({ botHandledThrough: later })
      .where(eq(conversations.id, conversation.id));
    const at = new Date();
    await storeOutbound(
      db(),
      reply(conversation.id, {
        author: 'agent',
        agent: true,
        parts: ['from a person'],
        at,
        handledThrough: new Date(later.getTime() - 60_000),
      }),
    );
    expect(await conversationRow(conversation.id)).toMatchObject({ handled: later, lastAgentAt: at });
    await storeOutbound(db(), reply(conversation.id, { parts: ['no mark'], handledThrough: null }));
    expect((await conversationRow(conversation.id)).handled).toEqual(later);
  });

  it('keeps rows unsent and enqueues nothing when told not to send', async () => {
    const { conversation } = await seedConversation(db(), { owner: 'bot' });
    const ids = await storeOutbound(
      db(),
      reply(conversation.id, { status: 'not_configured', error: 'not configured', send: false }),
    );
    expect(ids).toHaveLength(3);
    expect(await sendJobsFor(ids)).toEqual([]);
    const rows = await db()
      .select({ status: messages.status, error: messages.error })
      .from(messages)
      .where(eq(messages.conversationId, conversation.id));
    expect(rows).toEqual(Array(3).fill({ status: 'not_configured', error: 'not configured' }));
  });

  it('stores hostile text as text (quotes, backslashes, braces, lone surrogates, long parts)', async () => {
    const { conversation } = await seedConversation(db(), { owner: 'bot' });
    const parts = ['a "quoted" {brace}, back\\slash', 'lone \ud800 surrogate', 'x'.repeat(20_000), 'NULL'];
    const ids = await storeOutbound(db(), reply(conversation.id, { parts }));
    const rows = await db()
      .select({ body: messages.body })
      .from(messages)
      .where(eq(messages.conversationId, conversation.id))
      .orderBy(asc(messages.partIndex));
    expect(ids).toHaveLength(4);
    expect(rows.map((m) => m.body)).toEqual([parts[0], 'lone \ufffd surrogate', parts[2], 'NULL']);
  });

  it('leaves nothing behind when the transaction rolls back', async () => {
    const { conversation } = await seedConversation(db(), { owner: 'bot' });
    const before = await latestEventId(db());
    let ids: string[] = [];
    await expect(
      db().transaction(async (tx) => {
        ids = await storeOutbound(tx, reply(conversation.id));
        throw new Error('rolled back');
      }),
    ).rejects.toThrow('rolled back');
    expect(ids).toHaveLength(3);
    const [{ n }] = (await db().execute(
      sql`select count(*)::int as n from messages where conversation_id = ${conversation.id}`,
    )) as unknown as [{ n: number }];
    expect(n).toBe(0);
    expect(await eventsAfter(db(), { afterId: before, conversationId: conversation.id, limit: 10 })).toEqual(
      [],
    );
    expect(await sendJobsFor(ids)).toEqual([]);
  });

  it('refuses to store a message with no parts', async () => {
    const { conversation } = await seedConversation(db(), { owner: 'bot' });
    await expect(storeOutbound(db(), reply(conversation.id, { parts: [] }))).rejects.toThrow('no parts');
  });
});
