import { type PipelineDeps, QUEUE_REPLY } from '../conversation/deps';
import * as dq from '../db/queries/dead-letters';
import * as gq from '../db/queries/groups';
import * as sq from '../db/queries/system';
import { gatewayPhoneToE164 } from '../phone';
import { CLOUD_EVENT, cloudRawEntryOf } from './cloud-payload';
import { createInboundWriter, type InboundWriter } from './inbound-writer';
import type { IngestOutcome } from './outcome';
import { rawEntryOf, type WebhookItem, type WebhookMessageItem } from './payload';
import { ingestFromBusinessPhone, ingestStatus } from './receipts';

export type { IngestOutcome } from './outcome';

export interface IngestOptions {
  /**
   * Keep items that cannot be handled in the dead letters (the default). A retry of a dead letter
   * turns this off: its failure is recorded on the dead letter it came from.
   */
  deadLetters?: boolean;
}

/** Where webhook items come from, as recorded on their dead letters. */
export const WEBHOOK_SOURCE = 'wasender.webhook';
export const CLOUD_WEBHOOK_SOURCE = 'whatsapp-cloud.webhook';

/**
 * Stores what a webhook brought. Each item is handled on its own: one that cannot be handled goes to
 * the dead letters with its reason, and the others are stored as usual. Customers' messages are
 * written in batches, one statement per batch (`storeInboundMessages` in db/queries/messages.ts, through
 * the inbound writer): each message commits with its contact, conversation, event and reply job; a
 * second delivery of the same WhatsApp message hits the unique provider id and changes nothing.
 *
 * Consecutive customer messages are handed to the inbound writer together, so a webhook carrying
 * thousands of them is written in batched statements (one customer's messages stay in order); other
 * items run one at a time, in the order they came.
 *
 * Only an error that says the database itself is unavailable is thrown (the webhook then fails and
 * the gateway delivers it again); so is any error when the dead letter cannot be written either.
 */
export async function ingestItems(
  deps: PipelineDeps,
  items: WebhookItem[],
  opts: IngestOptions = {},
): Promise<IngestOutcome[]> {
  const keep = opts.deadLetters ?? true;
  const out: IngestOutcome[] = new Array(items.length);
  const handle = async (i: number, run: () => Promise<IngestOutcome>) => {
    try {
      out[i] = await run();
    } catch (err) {
      if (isDatabaseUnavailable(err)) throw err;
      out[i] = await deadLetter(deps, items[i]!, failureReason(err), keep, err);
    }
    const o = out[i]!;
    const unhandled =
      (o.kind === 'dead-letter' && o.deadLetterId === null) ||
      (o.kind === 'ignored' && UNREACHABLE_CHAT.test(o.reason));
    if (unhandled) out[i] = await deadLetter(deps, items[i]!, o.reason, keep);
  };
  let inbound: Promise<void>[] = [];
  for (let i = 0; i < items.length; i++) {
    const item = items[i]!;
    if (item.kind === 'message' && !item.fromMe) {
      inbound.push(handle(i, () => ingestMessage(deps, item)));
      continue;
    }
    // Anything else waits for the customers' messages before it, to keep the webhook's order.
    if (inbound.length) await settleAll(inbound);
    inbound = [];
    if (item.kind === 'rejected') {
      out[i] = await deadLetter(deps, item, item.reason, keep);
    } else if (item.kind === 'message') {
      await handle(i, () => ingestMessage(deps, item));
    } else if (item.kind === 'status') {
      await handle(i, () => ingestStatus(deps, item));
    } else {
      await handle(i, async () => {
        deps.log.info({ session: item.status }, 'WhatsApp session status');
        // Kept for the status page (stats.systemStatus): the newest session status wins.
        await sq.putSystemState(deps.db, sq.SESSION_STATE_KEY, { status: item.status });
        return { kind: 'ignored', reason: 'session status' };
      });
    }
  }
  await settleAll(inbound);
  const stored = out.some((o) => o.kind === 'stored');
  if (stored) deps.queue.wake(QUEUE_REPLY);
  return out;
}

/** Waits for every promise, then throws the first failure (so none is left running unobserved). */
async function settleAll(ps: Promise<void>[]) {
  const results = await Promise.allSettled(ps);
  const failed = results.find((r) => r.status === 'rejected');
  if (failed) throw (failed as PromiseRejectedResult).reason;
}

/** The reason the business-phone path gives for a chat it cannot place: a dead letter, not an ignore. */
const UNREACHABLE_CHAT = /has no phone number we can reach/;

/**
 * Errors that say the database is not there (connection lost, server shutting down, out of
 * resources) or that the statement lost a race it would win when run again: the item is fine, so
 * it must not be dead-lettered; the webhook fails and the gateway delivers it again.
 */
function isDatabaseUnavailable(err: unknown): boolean {
  for (let e = err as { code?: unknown; cause?: unknown } | undefined, depth = 0; e && depth < 5; depth++) {
    const code = typeof e.code === 'string' ? e.code : '';
    if (/^(08|53|57|58)/.test(code) || code === '40001' || code === '40P01' || code === '55P03') return true;
    if (/^(E[A-Z]{3,}|CONNECTION_[A-Z_]+|CONNECT_TIMEOUT)$/.test(code)) return true;
    e = e.cause as typeof e;
  }
  return false;
}

/** An error as a dead letter's reason: the database's message (with its SQLSTATE) or the error's own. */
function failureReason(err: unknown): string {
  const e = err as { message?: unknown; code?: unknown; cause?: { message?: unknown; code?: unknown } };
  const inner = e?.cause && typeof e.cause.message === 'string' ? e.cause : e;
  const message = typeof inner?.message === 'string' ? inner.message : String(err);
  const code = typeof inner?.code === 'string' ? ` (${inner.code})` : '';
  return `could not be stored: ${message}${code}`.slice(0, 1000);
}

/** Keeps an item in the dead letters, with its raw entry and the reason, and logs it. */
async function deadLetter(
  deps: PipelineDeps,
  item: WebhookItem,
  reason: string,
  keep: boolean,
  cause?: unknown,
): Promise<IngestOutcome> {
  const providerMessageId =
    item.kind === 'rejected' ? item.providerId : item.kind === 'session' ? null : item.providerId;
  if (!keep) return { kind: 'dead-letter', reason, deadLetterId: null };
  let id: string;
  const raw = rawEntryOf(item) ?? cloudRawEntryOf(item);
  try {
    ({ id } = await dq.insertDeadLetter(deps.db, {
      source: raw?.event === CLOUD_EVENT ? CLOUD_WEBHOOK_SOURCE : WEBHOOK_SOURCE,
      reason,
      raw: raw ?? { event: null, data: null },
      providerMessageId,
    }));
  } catch (err) {
    // Without the dead letter the item would leave no trace: fail the webhook so it comes again.
    throw cause ?? err;
  }
  deps.log.warn(
    { deadLetterId: id, providerMessageId, reason, ...(cause ? { err: cause } : {}) },
    'webhook item kept as a dead letter',
  );
  return { kind: 'dead-letter', reason, deadLetterId: id };
}

/** Thrown inside the transaction to roll back the work done for a message that turns out stored already. */
class Duplicate extends Error {}

async function ingestMessage(deps: PipelineDeps, item: WebhookMessageItem): Promise<IngestOutcome> {
  if (item.isGroup) return ingestGroupMessage(deps, item);
  if (item.isBroadcast) return { kind: 'ignored', reason: 'broadcast' };
  if (item.isNewsletter) return { kind: 'ignored', reason: 'newsletter' };
  if (item.isProtocol) return { kind: 'ignored', reason: 'protocol message' };

  // WhatsApp delivers only from numbers that exist: any plausible E.164 is kept (see server/phone.ts).
  const phone = item.phone ? gatewayPhoneToE164(item.phone) : null;
  try {
    if (item.fromMe) return await ingestFromBusinessPhone(deps, item, phone);
    return await ingestInbound(deps, item, phone);
  } catch (err) {
    if (err instanceof Duplicate) return { kind: 'duplicate' };
    throw err;
  }
}

/**
 * A message in a WhatsApp group: never answered by the bot (no conversation, no reply job). A
 * member's message is stored for agents (`groups.messages`) while the `storeGroupMessages` setting
 * is on; otherwise, and for the business's own group messages, nothing is stored.
 */
async function ingestGroupMessage(deps: PipelineDeps, item: WebhookMessageItem): Promise<IngestOutcome> {
  if (item.fromMe || item.isProtocol || !deps.settings.storeGroupMessages)
    return { kind: 'ignored', reason: 'group chat' };
  const phone = item.phone ? gatewayPhoneToE164(item.phone) : null;
  const stored = await gq.insertGroupMessage(deps.db, {
    groupJid: item.chatJid,
    providerMessageId: item.providerId,
    senderPhone: phone,
    senderLid: item.lid,
    senderName: item.pushName,
    type: item.type,
    body: item.text,
    sentAt: item.timestamp,
  });
  return stored ? { kind: 'ignored', reason: 'group chat (stored)' } : { kind: 'duplicate' };
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
    channel: item.channel ?? 'wasender',
    media: item.media
      ? {
          kind: item.media.kind,
          mimeType: item.media.mimeType,
          fileName: item.media.fileName,
          declaredBytes: item.media.declaredBytes,
          voice: item.media.voice,
          handle: item.media.handle,
        }
      : null,
    card: item.card ?? null,
  });
  if (r.kind === 'stored') return r;
  if (r.kind === 'duplicate') return r;
  return {
    kind: 'dead-letter',
    deadLetterId: null,
    reason: item.lid
      ? `first message from a sender known only by a LID (${item.lid}): no contact can be created without a phone number yet`
      : `sender has no usable number (chat ${item.chatJid || 'missing'})`,
  };
}
