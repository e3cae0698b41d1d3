import type { ActorType } from '../../drizzle';
import * as pq from '../db/queries/pipeline';
import type { DbOrTx } from '../db/types';
import { setOwner } from '../services/ownership';
import type { PipelineDeps } from './deps';
import { queueOutbound } from './outbox';

/**
 * Gives a conversation to a human: owner change with its reason, a follow-up task, an activity on
 * the contact's timeline, and (optionally) the persona's handoff message. Does nothing when a human
 * already owns the conversation, so the customer hears the handoff message once.
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
  await pq.insertTask(tx, {
    contactId: p.contactId,
    conversationId: p.conversationId,
    title: p.taskTitle ?? `Reply to ${p.customerLabel}: ${p.reason}`.slice(0, 300),
    type: 'handoff',
    priority: 'high',
    dueAt: new Date(Date.now() + 60 * 60_000),
    createdBy: 'bot',
  });
  await pq.insertActivity(tx, {
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
