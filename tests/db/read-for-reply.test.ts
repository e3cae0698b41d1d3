import { eq } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { conversations, messageMedia } from '../../drizzle';
import { readConversationForReply } from '../../server/db/queries/conversations';
import { MEDIA_WAIT_LIMIT_MS } from '../../server/db/queries/media';
import { useTestDatabase } from '../helpers/runtime';
import { seedConversation } from '../helpers/seed';

/**
 * What a reply job starts from, in one statement: the conversation, its newest inbound message, and
 * the burst to answer (the inbound messages after the bot's handled mark, oldest first, each saying
 * whether its file is still downloading).
 */
const database = useTestDatabase();
const db = () => database().db;

describe('readConversationForReply', () => {
  it('reads the inbound messages after the handled mark, oldest first, with the newest as latest', async () => {
    const base = Date.parse('2026-04-01T08:00:00.000Z');
    const at = (i: number) => new Date(base + i * 1000);
    const { conversation, messageIds } = await seedConversation(db(), {
      messages: [
        { direction: 'inbound', body: 'answered already', at: at(0) },
        { direction: 'outbound', body: 'the answer', at: at(1) },
        { direction: 'inbound', body: 'first "quoted" \\ {json}', at: at(2) },
        { direction: 'outbound', body: 'an agent meanwhile', author: 'agent', at: at(3) },
        { direction: 'inbound', body: 'second', at: at(4) },
      ],
    });
    await db()
      .update(conversations)
      .set({ botHandledThrough: at(0) })
      .where(eq(conversations.id, conversation.id));

    const read = await readConversationForReply(db(), conversation.id);
    expect(read?.latest).toEqual({ id: messageIds[4], createdAt: at(4) });
    expect(read?.botHandledThrough).toEqual(at(0));
    expect(read?.burst).toEqual([
      {
        id: messageIds[2],
        type: 'text',
        body: 'first "quoted" \\ {json}',
        createdAt: at(2),
        mediaPending: false,
      },
      { id: messageIds[4], type: 'text', body: 'second', createdAt: at(4), mediaPending: false },
    ]);
    expect(read?.burst[0]?.createdAt).toBeInstanceOf(Date);
  });

  it('reads every inbound message when nothing was handled, and none once all were', async () => {
    const { conversation, messageIds } = await seedConversation(db(), {
      messages: [
        { direction: 'inbound', body: 'one', at: new Date(Date.now() - 2000) },
        { direction: 'inbound', body: 'two', at: new Date(Date.now() - 1000) },
      ],
    });
    const fresh = await readConversationForReply(db(), conversation.id);
    expect(fresh?.burst.map((m) => m.id)).toEqual(messageIds);
    await db()
      .update(conversations)
      .set({ botHandledThrough: fresh!.latest!.createdAt })
      .where(eq(conversations.id, conversation.id));
    expect((await readConversationForReply(db(), conversation.id))?.burst).toEqual([]);
    expect(await readConversationForReply(db(), crypto.randomUUID())).toBeNull();
  });

  it('says which files are still downloading, for at most the media wait limit', async () => {
    const { conversation, messageIds } = await seedConversation(db(), {
      messages: [
        { direction: 'inbound', body: 'photo, still coming', at: new Date(Date.now() - 3000) },
        { direction: 'inbound', body: 'photo, pending too long', at: new Date(Date.now() - 2000) },
        { direction: 'inbound', body: 'photo, stored', at: new Date(Date.now() - 1000) },
      ],
    });
    await db()
      .insert(messageMedia)
      .values([
        { messageId: messageIds[0]!, kind: 'image', status: 'pending' },
        {
          messageId: messageIds[1]!,
          kind: 'image',
          status: 'pending',
          createdAt: new Date(Date.now() - MEDIA_WAIT_LIMIT_MS - 60_000),
        },
        { messageId: messageIds[2]!, kind: 'image', status: 'stored' },
      ]);
    const read = await readConversationForReply(db(), conversation.id);
    expect(read?.burst.map((m) => m.mediaPending)).toEqual([true, false, false]);
  });
});
