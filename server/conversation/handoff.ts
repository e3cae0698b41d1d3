import type { ActorType } from '../../drizzle';
import * as activityQ from '../db/queries/activities';
import { recordEvents } from '../db/queries/events';
import * as mq from '../db/queries/messages';
import * as taskQ from '../db/queries/tasks';
import type { DbOrTx } from '../db/types';
import type { PipelineDeps } from './deps';
import { openForHandoff } from './inbox';
import { nextPersonAvailable } from './language';
import { queueOutbound } from './outbox';
import { setOwner } from './ownership';

/** A handoff task is due an hour after now, or after the next opening when nobody is at work. */
function handoffTaskDue(deps: Pick<PipelineDeps, 'persona'>, now = new Date()): Date {
  const from = nextPersonAvailable(deps.persona, now) ?? now;
  return new Date(from.getTime() + 60 * 60_000);
}

/**
 * Gives a conversation to a human: owner change with its reason, the conversation `open` and
 * unassigned (or assigned by the routing rule), a follow-up task, an activity on the contact's
 * timeline, and (optionally) a message to the customer (the caller picks it with `fixedText`, in
 * the customer's language and with the business hours in mind). The task is due an hour after the
 * next opening when nobody is at work. Does nothing when a human already owns
 * the conversation, so the customer hears the handoff message once.
 */
export async function handOff(
  tx: DbOrTx,
  deps: Pick<PipelineDeps, 'queue' | 'gateway' | 'persona' | 'settings'>,
  p: {
    conversationId: string;
    contactId: string;
    customerLabel: string;
    reason: string;
    actorType: ActorType;
    message: string | null;
    taskTitle?: string;
  },
): Promise<boolean> {
  const changed = await setOwner(
    tx,
    { conversationId: p.conversationId, to: 'human', actorType: p.actorType, reason: p.reason },
    { humanQuietMinutes: deps.settings.humanQuietMinutes },
  );
  if (!changed) return false;
  await openForHandoff(tx, deps.settings, p.conversationId, new Date());
  await taskQ.insertTask(tx, {
    contactId: p.contactId,
    conversationId: p.conversationId,
    title: p.taskTitle ?? `Reply to ${p.customerLabel}: ${p.reason}`.slice(0, 300),
    type: 'handoff',
    priority: 'high',
    dueAt: handoffTaskDue(deps),
    createdBy: 'bot',
    createdByActor: { type: p.actorType, id: null, name: null },
  });
  await activityQ.insertActivity(tx, {
    contactId: p.contactId,
    type: 'handoff',
    summary: `Conversation handed to a human: ${p.reason}`.slice(0, 500),
    actorType: p.actorType,
    metadata: { conversationId: p.conversationId },
  });
  if (p.message)
    await queueOutbound(tx, deps, { conversationId: p.conversationId, text: p.message, author: 'bot' });
  return true;
}

/** A message that did not reach the customer, as the failure rule needs it. */
export interface FailedMessage {
  id: string;
  conversationId: string;
  contactId: string;
  phone: string;
  campaignId: string | null;
  replyGroup: string | null;
  partIndex: number;
}

/**
 * What follows a message that failed for good, whether our send failed or the gateway reported the
 * failure later (after the message was already marked failed): the parts after it are not sent, the
 * dashboards hear of it, and a conversation message goes to a person with a task saying why (the
 * conversation is handed to a human; when a human owns it already, the task alone). Campaign messages
 * are accounted for by their campaign.
 */
export async function handOffFailedMessage(
  tx: DbOrTx,
  deps: Pick<PipelineDeps, 'queue' | 'gateway' | 'persona' | 'settings'>,
  msg: FailedMessage,
  error: string,
) {
  if (msg.replyGroup)
    await mq.failRemainingParts(tx, msg.replyGroup, msg.partIndex, 'An earlier part failed');
  await recordEvents(tx, [
    { type: 'message.status', conversationId: msg.conversationId, messageId: msg.id, status: 'failed' },
  ]);
  if (msg.campaignId) return;
  const taskTitle = `Message to ${msg.phone} was not sent: ${error}`.slice(0, 300);
  const handed = await handOff(tx, deps, {
    conversationId: msg.conversationId,
    contactId: msg.contactId,
    customerLabel: msg.phone,
    reason: 'A message could not be sent',
    actorType: 'system',
    message: null,
    taskTitle,
  });
  if (!handed) {
    await taskQ.insertTask(tx, {
      contactId: msg.contactId,
      conversationId: msg.conversationId,
      title: taskTitle,
      type: 'handoff',
      priority: 'high',
      dueAt: handoffTaskDue(deps),
      createdBy: 'bot',
      createdByActor: { type: 'system', id: null, name: null },
    });
  }
}
