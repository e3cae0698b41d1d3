import type { PipelineDeps } from '../conversation/deps';
import { noteAgentActivity, setOwner } from '../conversation/ownership';
import { applyEarlyStatuses, applyStatus } from '../conversation/statuses';
import * as contactQ from '../db/queries/contacts';
import * as convQ from '../db/queries/conversations';
import { recordEvents } from '../db/queries/events';
import * as mq from '../db/queries/messages';
import type { Tx } from '../db/types';
import type { IngestOutcome } from './outcome';
import type { WebhookMessageItem, WebhookStatusItem } from './payload';

/**
 * What the gateway tells us about our own messages: their echoes (`fromMe` webhooks) and their
 * delivery statuses. Both name a message by the gateway's ids: WhatsApp's key id (`providerMessageId`,
 * learnt from the echo or from a `message.sent` event) and WaSender's msgId (`gatewayMessageId`,
 * learnt from the send response). Either may arrive before the other, and before the send response:
 * a status about a message not known yet is kept (`early_statuses`) and applied once one of its ids
 * is recorded. Status rules (forward only, whatever the order) live in `mq.advanceStatus`.
 */

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
      const conversationId = await convQ.upsertConversation(tx, contactId);
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
      await convQ.touchConversation(tx, conversationId, {
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
    contactId = await contactQ.upsertContactByPhone(tx, phone, null);
    await contactQ.addIdentity(tx, contactId, 'phone', phone);
  } else if (lid) {
    contactId = await contactQ.findContactByIdentity(tx, 'lid', lid);
  }
  if (contactId && lid) await contactQ.addIdentity(tx, contactId, 'lid', lid);
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
