import type { ActorType, Owner } from '../../drizzle';
import { recordEvents } from '../db/queries/events';
import * as mq from '../db/queries/messages';
import * as q from '../db/queries/ownership';
import type { DbOrTx } from '../db/types';
import { closeHumanTurn, type InboxActor, notePersonReply } from './inbox';

export interface OwnerChange {
  conversationId: string;
  to: Owner;
  actorType: ActorType;
  actorId?: string | null;
  /** The staff member's or API key's name at the time. */
  actorName?: string | null;
  reason?: string | null;
  at?: Date;
}

/**
 * The one way a conversation changes hands (bot ↔ human), used by the pipeline (takeover from the
 * phone, handoff requests, automatic resume) and by the dashboard (bot router). Each change is logged
 * in bot_events and announced as a `conversation.owner` event, in the caller's transaction (or one of
 * its own). Taking over withdraws the bot's messages still queued for that conversation; going back to
 * the bot ends the human turn (see `closeHumanTurn`: the handoff task is completed).
 *
 * A human owner gets the bot back by itself after `humanQuietMinutes` without agent activity
 * (0 disables the automatic hand-back).
 */
export async function setOwner(
  db: DbOrTx,
  change: OwnerChange,
  opts: { humanQuietMinutes: number },
): Promise<boolean> {
  const at = change.at ?? new Date();
  return db.transaction(async (tx) => {
    const previous = await q.changeOwner(tx, {
      conversationId: change.conversationId,
      to: change.to,
      actorType: change.actorType,
      actorId: change.actorId ?? null,
      actorName: change.actorName ?? null,
      reason: change.reason ?? null,
      botResumesAt: change.to === 'human' ? resumeTime(at, opts.humanQuietMinutes) : null,
      at,
    });
    if (previous === null) return false;
    // What the bot queued before a person took over stays unsent: the person answers now. The
    // owner change above waits for any reply being queued under the conversation's lock, so this
    // sees its parts. A handoff message is queued after this, and goes out.
    const withdrawn =
      change.to === 'human' ? await mq.withdrawQueuedBotMessages(tx, change.conversationId) : [];
    // Back to the bot: the human turn ends, and its handoff task is done.
    if (change.to === 'bot') {
      await closeHumanTurn(
        tx,
        change.conversationId,
        { type: change.actorType, id: change.actorId ?? null, name: change.actorName ?? null },
        { resolved: false, at },
      );
    }
    await recordEvents(tx, [
      {
        type: 'conversation.owner',
        conversationId: change.conversationId,
        owner: change.to,
        reason: change.reason ?? null,
      },
      ...withdrawn.map((w) => ({
        type: 'message.status' as const,
        conversationId: change.conversationId,
        messageId: w.id,
        status: 'failed' as const,
      })),
    ]);
    return true;
  });
}

/** Agent activity in a human-owned conversation postpones the bot's automatic return. */
export async function noteAgentActivity(
  db: DbOrTx,
  conversationId: string,
  at: Date,
  opts: { humanQuietMinutes: number },
) {
  await q.extendHumanOwnership(db, conversationId, resumeTime(at, opts.humanQuietMinutes));
}

export function resumeTime(at: Date, quietMinutes: number): Date | null {
  return quietMinutes > 0 ? new Date(at.getTime() + quietMinutes * 60_000) : null;
}

/**
 * A person replied from the dashboard: the conversation is theirs (the bot steps aside for the quiet
 * time, extended by this activity), the waiting handoff is answered and the replier has read it.
 */
export async function notePersonReplied(
  tx: DbOrTx,
  conversationId: string,
  actor: InboxActor & { type: ActorType },
  opts: { humanQuietMinutes: number },
) {
  await setOwner(
    tx,
    {
      conversationId,
      to: 'human',
      actorType: actor.type,
      actorId: actor.id,
      actorName: actor.name,
      reason: 'An agent replied',
    },
    opts,
  );
  const at = new Date();
  await noteAgentActivity(tx, conversationId, at, opts);
  await notePersonReply(tx, conversationId, actor, at);
}
