import type { MessageStatus } from '../../drizzle';
import * as cq from '../db/queries/campaign-dispatch';
import * as mq from '../db/queries/messages';
import * as pq from '../db/queries/pipeline';
import type { DbOrTx, Tx } from '../db/types';
import { recordEvents } from '../events/record';
import { noteAgentActivity, setOwner } from '../services/ownership';
import type { WebhookMessageItem, WebhookStatusItem } from '../webhook/payload';
import type { PipelineDeps } from './deps';
import { handOffFailedMessage } from './handoff';
import type { IngestOutcome } from './ingest';

/**
 * What the gateway tells us about our own messages: their echoes (`fromMe` webhooks) and their
 * delivery statuses. Both name a message by the gateway's ids: WhatsApp's key id (`providerMessageId`,
 * learnt from the echo or from a `message.sent` event) and WaSender's msgId (`gatewayMessageId`,
 * learnt from the send response). Either may arrive before the other, and before the send response:
 * a status about a message not known yet is kept (`early_statuses`) and applied once one of its ids
 * is recorded. Status rules (forward only, whatever the order) live in `mq.advanceStatus`.
 */

type FailureDeps = Pick<PipelineDeps, 'queue' | 'gateway' | 'persona' | 'settings'>;

/** Rolls back the work done for an item that turns out stored already. */
class AlreadyStored extends Error {}

/**
 * A `fromMe` message: the echo of one of our own sends, or something a person typed on the business
 * phone, which hands the conversation to a human. Echoes are matched by id first (WhatsApp's id
 * already linked, or WaSender's msgId the item or an early `message.sent` status names), by text only
 * as a fallback, compared without whitespace and Unicode-composition differences.
 */
export async function ingestFromBusinessPhone(
  deps: PipelineDeps,
  item: WebhookMessageItem,
  phone: string | null,
): Promise<IngestOutcome> {
  try {
    return await deps.db.transaction(async (tx): Promise<IngestOutcome> => {
      const at = new Date();
      const known = await mq.findMessageByProviderId(tx, item.providerId);
      if (known) {
        if (known.direction !== 'outbound') throw new AlreadyStored();
        // Linked already (a `message.sent` status came first, or this echo is delivered twice).
        await applyStatus(tx, deps, known.id, 'sent', null, at);
        return { kind: 'echo', messageId: known.id };
      }
      const contactId = await resolveContact(tx, phone, item.lid);
      if (!contactId) return { kind: 'ignored', reason: 'chat has no phone number we can reach' };
      const conversationId = await pq.upsertConversation(tx, contactId);
      const itemMsgId = (item as { msgId?: string | null }).msgId ?? null;
      const gatewayMessageId = itemMsgId ?? (await mq.earlyGatewayIdFor(tx, item.providerId));
      const echo = await mq.claimEchoedOutbound(tx, {
        conversationId,
        body: item.text,
        providerMessageId: item.providerId,
        gatewayMessageId,
      });
      if (echo) {
        // WhatsApp saw it, so it was sent, even if our process died before hearing back from the
        // gateway (such a send was marked failed as interrupted).
        await applyStatus(tx, deps, echo.id, 'sent', null, at);
        await applyEarlyStatuses(tx, deps, {
          id: echo.id,
          providerMessageId: item.providerId,
          gatewayMessageId: echo.gatewayMessageId,
        });
        return { kind: 'echo', messageId: echo.id };
      }
      const created = await mq.insertInbound(tx, {
        conversationId,
        providerMessageId: item.providerId,
        type: item.type,
        body: item.text,
        author: 'agent',
        direction: 'outbound',
        status: 'sent',
        actorId: 'business-phone',
      });
      if (!created) throw new AlreadyStored();
      await pq.touchConversation(tx, conversationId, {
        at,
        preview: item.text ?? `[${item.type}]`,
        inbound: false,
        agent: true,
      });
      const quiet = { humanQuietMinutes: deps.settings.humanQuietMinutes };
      await setOwner(
        tx,
        {
          conversationId,
          to: 'human',
          actorType: 'agent',
          actorId: 'business-phone',
          reason: 'Replied from the business phone',
        },
        quiet,
      );
      await noteAgentActivity(tx, conversationId, at, quiet);
      await recordEvents(tx, [
        {
          type: 'message.created',
          conversationId,
          messageId: created.id,
          direction: 'outbound',
          author: 'agent',
        },
      ]);
      return { kind: 'agent', conversationId, messageId: created.id };
    });
  } catch (err) {
    if (err instanceof AlreadyStored) return { kind: 'duplicate' };
    throw err;
  }
}

/** One person, whichever id WhatsApp used: the phone number first, then a known LID. */
async function resolveContact(tx: Tx, phone: string | null, lid: string | null) {
  let contactId: string | null = null;
  if (phone) {
    contactId = await pq.upsertContactByPhone(tx, phone, null);
    await pq.addIdentity(tx, contactId, 'phone', phone);
  } else if (lid) {
    contactId = await pq.findContactByIdentity(tx, 'lid', lid);
  }
  if (contactId && lid) await pq.addIdentity(tx, contactId, 'lid', lid);
  return contactId;
}

/**
 * A delivery status. Applied to the message it names (WhatsApp's id first, then WaSender's msgId;
 * a status carrying both links WhatsApp's id to the message), or kept until that message is known.
 * A failure the gateway reports is handled like a failed send: a task for a person, the handoff.
 */
export async function ingestStatus(deps: PipelineDeps, item: WebhookStatusItem): Promise<IngestOutcome> {
  return deps.db.transaction(async (tx) => {
    const at = new Date();
    const row = await mq.findOutboundByIds(tx, {
      providerMessageId: item.providerId,
      gatewayMessageId: item.msgId,
    });
    if (!row) {
      await mq.keepEarlyStatus(tx, {
        providerMessageId: item.providerId,
        gatewayMessageId: item.msgId,
        status: item.status,
        error: item.error,
      });
      return { kind: 'status', updated: false } as const;
    }
    const updated = await applyStatus(tx, deps, row.id, item.status, item.error, at);
    if (!row.providerMessageId && (await mq.linkProviderId(tx, row.id, item.providerId))) {
      await applyEarlyStatuses(tx, deps, {
        id: row.id,
        providerMessageId: item.providerId,
        gatewayMessageId: null,
      });
    }
    return { kind: 'status', updated } as const;
  });
}

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
async function applyStatus(
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
