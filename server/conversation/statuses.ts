import type { MessageStatus } from '../../drizzle';
import * as cq from '../db/queries/campaign-recipients';
import { recordEvents } from '../db/queries/events';
import * as mq from '../db/queries/messages';
import type { DbOrTx } from '../db/types';
import type { PipelineDeps } from './deps';
import { handOffFailedMessage } from './handoff';

/** What a failed message's hand-off needs; null where no conversation follows a failure (campaigns). */
export type FailureDeps = Pick<PipelineDeps, 'queue' | 'gateway' | 'persona' | 'settings'>;

/**
 * Applies, then forgets, the statuses kept for a message that just got one of its ids (the send
 * response's msgId, or WhatsApp's id from its echo). Call in the transaction that records the id.
 */
export async function applyEarlyStatuses(
  tx: DbOrTx,
  deps: FailureDeps | null,
  msg: { id: string; providerMessageId: string | null; gatewayMessageId: string | null },
) {
  let ids = { providerMessageId: msg.providerMessageId, gatewayMessageId: msg.gatewayMessageId };
  for (let round = 0; round < 2; round++) {
    const early = await mq.takeEarlyStatuses(tx, ids);
    if (!early.length) return;
    let linked: string | null = null;
    for (const e of early) {
      if (!linked && !ids.providerMessageId && e.providerMessageId) {
        if (await mq.linkProviderId(tx, msg.id, e.providerMessageId)) linked = e.providerMessageId;
      }
      await applyStatus(tx, deps, msg.id, e.status, e.error, e.receivedAt);
    }
    // WhatsApp's id learnt from a kept status may name more kept statuses.
    if (!linked) return;
    ids = { providerMessageId: linked, gatewayMessageId: null };
  }
}

/**
 * Moves one message's status (forward only) and what follows from it: its campaign recipient, the
 * dashboards' event, and for a failure the failed-message rule. Returns whether it moved.
 */
export async function applyStatus(
  tx: DbOrTx,
  deps: FailureDeps | null,
  id: string,
  status: MessageStatus,
  error: string | null,
  at: Date,
): Promise<boolean> {
  const row = await mq.advanceStatus(tx, { id }, status, error, at);
  if (!row) return false;
  if (row.campaignId) await cq.advanceRecipientForMessage(tx, row.id, row.status, error, at);
  if (row.status !== 'failed') {
    await recordEvents(tx, [
      { type: 'message.status', conversationId: row.conversationId, messageId: row.id, status: row.status },
    ]);
    return true;
  }
  const msg = await mq.findOutboundForSend(tx, row.id);
  const reason = `WhatsApp reported it failed${error ? `: ${error}` : ''}`;
  if (msg && deps) await handOffFailedMessage(tx, deps, msg, reason);
  else
    await recordEvents(tx, [
      { type: 'message.status', conversationId: row.conversationId, messageId: row.id, status: 'failed' },
    ]);
  return true;
}
