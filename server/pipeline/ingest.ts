import * as cq from '../db/queries/campaign-dispatch';
import * as mq from '../db/queries/messages';
import * as pq from '../db/queries/pipeline';
import * as sq from '../db/queries/system';
import type { Tx } from '../db/types';
import { recordEvents } from '../events/record';
import { toE164 } from '../phone';
import { noteAgentActivity, setOwner } from '../services/ownership';
import type { WebhookItem, WebhookMessageItem, WebhookStatusItem } from '../webhook/payload';
import { type PipelineDeps, QUEUE_REPLY } from './deps';
import { createInboundWriter, type InboundWriter } from './inbound-writer';

export type IngestOutcome =
  | { kind: 'stored'; conversationId: string; messageId: string }
  | { kind: 'duplicate' }
  | { kind: 'echo'; messageId: string }
  | { kind: 'agent'; conversationId: string; messageId: string }
  | { kind: 'status'; updated: boolean }
  | { kind: 'ignored'; reason: string };

/**
 * Stores what a webhook brought, one transaction per item. An inbound message, its contact and
 * conversation, its event and its reply job commit together; a second delivery of the same WhatsApp
 * message hits the unique provider id and changes nothing.
 */
export async function ingestItems(deps: PipelineDeps, items: WebhookItem[]): Promise<IngestOutcome[]> {
  const out: IngestOutcome[] = [];
  for (const item of items) {
    if (item.kind === 'message') out.push(await ingestMessage(deps, item));
    else if (item.kind === 'status') out.push(await ingestStatus(deps, item));
    else {
      deps.log.info({ session: item.status }, 'WhatsApp session status');
      // Kept for the status page (stats.systemStatus): the newest session status wins.
      await sq.putSystemState(deps.db, sq.SESSION_STATE_KEY, { status: item.status });
      out.push({ kind: 'ignored', reason: 'session status' });
    }
  }
  const stored = out.some((o) => o.kind === 'stored');
  if (stored) deps.queue.wake(QUEUE_REPLY);
  return out;
}

/** Thrown inside the transaction to roll back the work done for a message that turns out stored already. */
class Duplicate extends Error {}

async function ingestMessage(deps: PipelineDeps, item: WebhookMessageItem): Promise<IngestOutcome> {
  if (item.isGroup) return { kind: 'ignored', reason: 'group chat' };
  if (item.isBroadcast) return { kind: 'ignored', reason: 'broadcast' };
  if (item.isNewsletter) return { kind: 'ignored', reason: 'newsletter' };
  if (item.isProtocol) return { kind: 'ignored', reason: 'protocol message' };

  const phone = item.phone ? toE164(`+${item.phone}`, deps.settings.defaultRegion) : null;
  try {
    if (item.fromMe) return await ingestFromBusinessPhone(deps, item, phone);
    return await ingestInbound(deps, item, phone);
  } catch (err) {
    if (err instanceof Duplicate) return { kind: 'duplicate' };
    throw err;
  }
}

/**
 * The writer of each pipeline's inbound messages. At most a few statements run at once (the pool
 * keeps connections for the jobs and the dashboard); webhooks arriving meanwhile share the next one.
 */
const writers = new WeakMap<PipelineDeps, InboundWriter>();
function inboundWriter(deps: PipelineDeps) {
  let w = writers.get(deps);
  if (!w) {
    w = createInboundWriter(deps.db, QUEUE_REPLY, { maxInFlight: 3, maxBatch: 64 });
    writers.set(deps, w);
  }
  return w;
}

/**
 * A customer's message: the hot path, one statement (shared with other webhooks when busy) that
 * stores the contact, conversation, message, event and reply job together, or nothing when the
 * provider id says the message is stored already.
 */
async function ingestInbound(
  deps: PipelineDeps,
  item: WebhookMessageItem,
  phone: string | null,
): Promise<IngestOutcome> {
  const r = await inboundWriter(deps).store({
    phone,
    lid: item.lid,
    pushName: item.pushName,
    providerMessageId: item.providerId,
    type: item.type,
    body: item.text,
    preview: item.text ?? `[${item.type}]`,
    replyQuietMs: deps.settings.replyQuietMs,
  });
  if (r.kind === 'stored') return r;
  if (r.kind === 'duplicate') return r;
  return { kind: 'ignored', reason: 'sender has no phone number we can reach' };
}

/**
 * A `fromMe` message: the echo of one of our own sends (linked to its row by text), or something a
 * person typed on the business phone, which hands the conversation to a human.
 */
async function ingestFromBusinessPhone(
  deps: PipelineDeps,
  item: WebhookMessageItem,
  phone: string | null,
): Promise<IngestOutcome> {
  return deps.db.transaction(async (tx) => {
    if (await mq.findMessageByProviderId(tx, item.providerId)) throw new Duplicate();
    const contactId = await resolveContact(tx, phone, item.lid, null);
    if (!contactId) return { kind: 'ignored', reason: 'chat has no phone number we can reach' } as const;
    const conversationId = await pq.upsertConversation(tx, contactId);
    const at = new Date();
    if (item.text) {
      const echo = await mq.claimEchoedOutbound(tx, {
        conversationId,
        body: item.text,
        providerMessageId: item.providerId,
      });
      if (echo) {
        // WhatsApp saw it, so it was sent, even if our process died before hearing back from the
        // gateway (such a send was marked failed as interrupted).
        let moved = true;
        if (echo.status === 'failed') await mq.setStatus(tx, echo.id, 'sent', null);
        else moved = (await mq.advanceStatus(tx, { id: echo.id }, 'sent', null, at)) !== null;
        if (moved) {
          await cq.advanceRecipientForMessage(tx, echo.id, 'sent', null, at);
          await recordEvents(tx, [
            { type: 'message.status', conversationId, messageId: echo.id, status: 'sent' },
          ]);
        }
        return { kind: 'echo', messageId: echo.id } as const;
      }
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
    if (!created) throw new Duplicate();
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
    return { kind: 'agent', conversationId, messageId: created.id } as const;
  });
}

/** One person, whichever id WhatsApp used: the phone number first, then a known LID. */
async function resolveContact(tx: Tx, phone: string | null, lid: string | null, pushName: string | null) {
  let contactId: string | null = null;
  if (phone) {
    contactId = await pq.upsertContactByPhone(tx, phone, pushName);
    await pq.addIdentity(tx, contactId, 'phone', phone);
  } else if (lid) {
    contactId = await pq.findContactByIdentity(tx, 'lid', lid);
  }
  if (contactId && lid) await pq.addIdentity(tx, contactId, 'lid', lid);
  return contactId;
}

async function ingestStatus(deps: PipelineDeps, item: WebhookStatusItem): Promise<IngestOutcome> {
  return deps.db.transaction(async (tx) => {
    const at = new Date();
    let row = await mq.advanceStatus(tx, { providerMessageId: item.providerId }, item.status, item.error, at);
    if (!row && item.msgId)
      row = await mq.advanceStatus(tx, { gatewayMessageId: item.msgId }, item.status, item.error, at);
    if (!row) return { kind: 'status', updated: false } as const;
    if (row.campaignId) await cq.advanceRecipientForMessage(tx, row.id, row.status, item.error, at);
    await recordEvents(tx, [
      { type: 'message.status', conversationId: row.conversationId, messageId: row.id, status: row.status },
    ]);
    return { kind: 'status', updated: true } as const;
  });
}
