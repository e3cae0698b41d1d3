import { eq, sql } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { conversations, messages } from '../../drizzle';
import { claimForSend, WITHDRAWN_AFTER_TAKEOVER } from '../../server/db/queries/messages';
import { useTestDatabase } from '../helpers/runtime';
import { seedConversation } from '../helpers/seed';

/**
 * The last guard before the gateway: a bot message written before a person took its conversation
 * over is never claimed for sending, whatever path left it queued (here the takeover is written
 * straight to the row, so the takeover's own withdrawal does not run). What is written after the
 * owner change, in its transaction or later, still goes out.
 */
const database = useTestDatabase();
const db = () => database().db;

async function queued(conversationId: string, author: 'bot' | 'agent', at?: Date) {
  const [row] = await db()
    .insert(messages)
    .values({
      conversationId,
      direction: 'outbound',
      author,
      body: `${author} part`,
      status: 'queued',
      ...(at ? { createdAt: at } : {}),
    })
    .returning({ id: messages.id });
  return row!.id;
}

const takeOver = (conversationId: string) =>
  db()
    .update(conversations)
    .set({ owner: 'human', ownerSince: sql`now()` })
    .where(eq(conversations.id, conversationId));

const statusOf = async (id: string) =>
  (
    await db()
      .select({ status: messages.status, error: messages.error })
      .from(messages)
      .where(eq(messages.id, id))
  )[0];

describe('claiming a message for sending after a takeover', () => {
  it('withdraws a bot part written before the takeover, and claims the rest', async () => {
    const { conversation } = await seedConversation(db(), { owner: 'bot' });
    const before = await queued(conversation.id, 'bot', new Date(Date.now() - 5_000));
    const agentBefore = await queued(conversation.id, 'agent', new Date(Date.now() - 5_000));
    await takeOver(conversation.id);
    const after = await queued(conversation.id, 'bot');

    expect(await claimForSend(db(), before)).toBe('withdrawn');
    expect(await statusOf(before)).toEqual({ status: 'failed', error: WITHDRAWN_AFTER_TAKEOVER });
    // A person's message, and the bot's notice written after the owner change, go out.
    expect(await claimForSend(db(), agentBefore)).toBe('claimed');
    expect(await claimForSend(db(), after)).toBe('claimed');
    expect((await statusOf(after))?.status).toBe('pending');
    // Claimed once: a second claim finds nothing queued.
    expect(await claimForSend(db(), after)).toBeNull();
  });

  it('claims the notice written in the takeover transaction itself (the handoff message)', async () => {
    const { conversation } = await seedConversation(db(), { owner: 'bot' });
    const notice = await db().transaction(async (tx) => {
      await tx
        .update(conversations)
        .set({ owner: 'human', ownerSince: sql`now()` })
        .where(eq(conversations.id, conversation.id));
      const [row] = await tx
        .insert(messages)
        .values({
          conversationId: conversation.id,
          direction: 'outbound',
          author: 'bot',
          body: 'notice',
          status: 'queued',
        })
        .returning({ id: messages.id });
      return row!.id;
    });
    expect(await claimForSend(db(), notice)).toBe('claimed');
  });

  it('claims bot parts while the bot owns the conversation, however old', async () => {
    const { conversation } = await seedConversation(db(), { owner: 'bot' });
    const old = await queued(conversation.id, 'bot', new Date(Date.now() - 60_000));
    expect(await claimForSend(db(), old)).toBe('claimed');
  });
});
