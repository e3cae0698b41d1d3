import * as sq from '../db/queries/system';
import { toE164 } from '../phone';
import type { WebhookItem, WebhookMessageItem } from '../webhook/payload';
import { type PipelineDeps, QUEUE_REPLY } from './deps';
import { createInboundWriter, type InboundWriter } from './inbound-writer';
import { ingestFromBusinessPhone, ingestStatus } from './receipts';

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
