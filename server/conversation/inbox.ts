import type { StoredActor } from '../../drizzle';
import type { TAppEvent } from '../contracts';
import { recordEvents } from '../db/queries/events';
import * as q from '../db/queries/inbox';
import type { DbOrTx } from '../db/types';

/**
 * The human side of a conversation, shared by the pipeline (handoffs) and the services (replies,
 * hand-backs, resolving). A "turn" starts when a customer is handed to a person (or writes to a
 * conversation a person owns) and ends when the conversation goes back to the bot or is resolved;
 * `waitingSince` marks a customer waiting for a person's reply.
 */

/** How handed-off conversations are given to people (ROUTING, ROUTING_MAX_OPEN_PER_AGENT). */
export interface RoutingSettings {
  routing: 'none' | 'round_robin';
  routingMaxOpenPerAgent: number;
}

/** An actor with, for a signed-in person, their staff id (metrics are kept per person). */
export type InboxActor = StoredActor;

const staffIdOf = (a: InboxActor) => (a.type === 'staff' ? a.id : null);

/**
 * A handoff: the conversation becomes `open` and unassigned, or assigned by the routing rule; its
 * turn starts (unless one is under way) and the customer waits for a person.
 */
export async function openForHandoff(
  tx: DbOrTx,
  settings: RoutingSettings,
  conversationId: string,
  at: Date,
): Promise<void> {
  const state = await q.lockInboxState(tx, conversationId);
  if (!state) return;
  const routed =
    settings.routing === 'round_robin' ? await q.pickRoundRobin(tx, settings.routingMaxOpenPerAgent) : null;
  const assigneeId = routed?.id ?? null;
  await q.setTurn(tx, conversationId, {
    status: 'open',
    snoozedUntil: null,
    assigneeId,
    waitingSince: state.waitingSince ?? at,
    turnStartedAt: state.turnStartedAt ?? at,
    turnAnsweredAt: state.turnStartedAt ? state.turnAnsweredAt : null,
  });
  const events: TAppEvent[] = [];
  if (state.status !== 'open')
    events.push({ type: 'conversation.status', conversationId, status: 'open', snoozedUntil: null });
  if (state.assigneeId !== assigneeId)
    events.push({
      type: 'conversation.assigned',
      conversationId,
      assigneeId,
      assigneeName: routed?.name ?? null,
    });
  if (events.length) await recordEvents(tx, events);
}

/**
 * A person (or a script through an API key) replied: the first reply of a turn is measured (from the
 * turn's start), the customer no longer waits, and the conversation counts as read.
 */
export async function notePersonReply(tx: DbOrTx, conversationId: string, actor: InboxActor, at: Date) {
  const state = await q.lockInboxState(tx, conversationId);
  if (!state) return;
  if (state.turnStartedAt && !state.turnAnsweredAt) {
    await q.insertMetric(tx, {
      kind: 'first_response',
      conversationId,
      staffId: staffIdOf(actor),
      actor,
      startedAt: state.turnStartedAt,
      at,
    });
  }
  await q.setTurn(tx, conversationId, {
    waitingSince: null,
    turnStartedAt: state.turnStartedAt ?? at,
    turnAnsweredAt: state.turnAnsweredAt ?? at,
    unreadCount: 0,
  });
  if (state.unreadCount > 0) await recordEvents(tx, [{ type: 'conversation.updated', conversationId }]);
}

/**
 * The turn ends (hand-back to the bot, or resolving): the open handoff tasks are completed by the
 * actor, nobody waits any more, and a resolution is measured when `resolved`.
 */
export async function closeHumanTurn(
  tx: DbOrTx,
  conversationId: string,
  actor: InboxActor,
  opts: { resolved: boolean; at: Date },
) {
  const state = await q.lockInboxState(tx, conversationId);
  if (!state) return;
  if (opts.resolved && state.turnStartedAt) {
    await q.insertMetric(tx, {
      kind: 'resolution',
      conversationId,
      staffId: staffIdOf(actor),
      actor,
      startedAt: state.turnStartedAt,
      at: opts.at,
    });
  }
  if (state.turnStartedAt || state.waitingSince) {
    await q.setTurn(tx, conversationId, { waitingSince: null, turnStartedAt: null, turnAnsweredAt: null });
  }
  const done = await q.completeOpenHandoffs(tx, conversationId, actor);
  if (done.length) {
    await recordEvents(
      tx,
      done.map((t) => ({
        type: 'task.completed' as const,
        taskId: t.id,
        contactId: t.contactId,
        dealId: t.dealId,
        conversationId,
      })),
    );
  }
}
