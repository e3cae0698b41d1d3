import { and, eq, ne, sql } from 'drizzle-orm';
import { type ActorType, botEvents, conversations, type Owner } from '../../../drizzle';
import type { DbOrTx } from '../types';

/**
 * Changes a conversation's owner if it differs, and records the change. Returns the previous owner,
 * or null when nothing changed (already owned by `to`, or no such conversation).
 */
export async function changeOwner(
  db: DbOrTx,
  p: {
    conversationId: string;
    to: Owner;
    actorType: ActorType;
    actorId: string | null;
    actorName: string | null;
    reason: string | null;
    botResumesAt: Date | null;
    at: Date;
  },
): Promise<Owner | null> {
  const [row] = await db
    .update(conversations)
    .set({
      owner: p.to,
      ownerSince: sql`now()`,
      ownerReason: p.reason,
      botResumesAt: p.to === 'human' ? p.botResumesAt : null,
    })
    .where(and(eq(conversations.id, p.conversationId), ne(conversations.owner, p.to)))
    .returning({ id: conversations.id });
  if (!row) return null;
  const from: Owner = p.to === 'bot' ? 'human' : 'bot';
  await db.insert(botEvents).values({
    conversationId: p.conversationId,
    fromOwner: from,
    toOwner: p.to,
    actorType: p.actorType,
    actorId: p.actorId,
    actorName: p.actorName,
    reason: p.reason,
    createdAt: p.at,
  });
  return from;
}

/** Pushes the automatic hand-back time of a human-owned conversation (a human is still active). */
export async function extendHumanOwnership(db: DbOrTx, conversationId: string, botResumesAt: Date | null) {
  await db
    .update(conversations)
    .set({ botResumesAt })
    .where(and(eq(conversations.id, conversationId), eq(conversations.owner, 'human')));
}
