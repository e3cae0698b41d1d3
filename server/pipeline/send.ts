import {
  GATEWAY_THROTTLE,
  type PipelineDeps,
  QUEUE_SEND,
  type SendJob,
  type SendQueueStatus,
} from '../conversation/deps';
import { sendStoredFile } from '../conversation/files';
import { handOffFailedMessage } from '../conversation/handoff';
import { applyEarlyStatuses } from '../conversation/statuses';
import { windowRefusal } from '../conversation/window';
import { recordEvents } from '../db/queries/events';
import * as mediaQ from '../db/queries/media';
import * as mq from '../db/queries/messages';
import * as tq from '../db/queries/throttles';
import type { DbOrTx } from '../db/types';
import { GatewayRejectedError } from '../integrations/gateway';
import { classifySendFailure } from '../integrations/send-policy';
import { sleep } from '../sleep';

export type SendOutcome =
  | 'sent'
  | 'skipped'
  | 'rate-limited'
  | 'rescheduled'
  | 'in-flight'
  | 'failed'
  | 'not-configured'
  | 'interrupted'
  | 'withdrawn';

/** A send job's data: the part to send, and the throttle slot it holds once it waited for one. */
export type SendJobData = SendJob & { slotAt?: string };

/** Longest throttle wait a send job sleeps through; a longer one ends the job and schedules a new one. */
export function inJobWaitMs(settings: PipelineDeps['settings']): number {
  const room = settings.sendJobTimeoutSeconds * 1000 - settings.gatewayTimeoutMs - 5000;
  return Math.max(0, Math.min(2000, room));
}

/** How long after its claim a send attempt may still be running (its gateway call, its recording). */
export function inFlightLimitMs(settings: PipelineDeps['settings']): number {
  return settings.gatewayTimeoutMs + 10_000;
}

/**
 * Sends one outbound message part through the gateway, at most once, never holding its job longer
 * than a gateway call plus a short throttle wait (pg-boss gives a job that outlives its timeout to
 * another worker while the first still runs).
 *
 * - The throttle slot is reserved once; a slot further away than `inJobWaitMs` ends this job and
 *   schedules a new one for that time carrying the slot (the message stays queued and always has a
 *   job).
 * - The row is claimed (queued → pending) before the gateway call. A job that finds it pending while
 *   the claim is younger than a send can take (a retry racing the first handler) checks again later;
 *   an older claim means the attempt died: the gateway may or may not have accepted it, so it is
 *   marked failed for a person to check instead of risking a duplicate in the customer's chat. The
 *   same holds for a request that got no answer (`mayHaveArrived`); errors that surely left the
 *   message unsent (an HTTP error status, no connection) are retried with backoff.
 * - A 429 pushes the shared throttle by the gateway's retry time, capped by
 *   GATEWAY_RETRY_AFTER_MAX_SECONDS.
 * - No status write moves a message backwards (see `mq.advanceStatus`).
 */
export async function runSendJob(
  deps: PipelineDeps,
  job: { data: SendJobData; retryCount: number },
): Promise<SendOutcome> {
  const { db, gateway, settings, log } = deps;
  const slotHeld = job.data.slotAt ? new Date(job.data.slotAt) : null;
  const held = slotHeld && !Number.isNaN(slotHeld.getTime()) ? slotHeld : null;
  const interval = 60_000 / settings.sendRatePerMinute;
  // Without a slot held, a queued message's slot is reserved as it is read, when nothing checked
  // below can stop its send before the slot is taken: a configured gateway with no customer window
  // (`windowRefusal` only refuses on the Cloud API).
  const reserveNow = !held && gateway.configured && gateway.name !== 'whatsapp-cloud';
  const found = await mq.findOutboundForSendReserving(
    db,
    job.data.messageId,
    reserveNow ? { throttle: GATEWAY_THROTTLE, intervalMs: interval } : null,
  );
  const msg = found.msg;
  if (!msg) return 'skipped';
  if (msg.status === 'pending') {
    const settledAt = msg.updatedAt.getTime() + inFlightLimitMs(settings);
    if (settledAt > Date.now()) {
      await deps.queue.send<SendJobData>(
        QUEUE_SEND,
        { messageId: msg.id },
        { startAfter: new Date(settledAt) },
      );
      return 'in-flight';
    }
    await failPart(deps, msg, 'Sending was interrupted; it may not have been delivered');
    return 'interrupted';
  }
  if (msg.status !== 'queued') return 'skipped';
  if (!gateway.configured) {
    await mq.markNotConfigured(db, msg.id, notConfiguredText(gateway.name));
    return 'not-configured';
  }
  // The Cloud API's 24-hour window is checked here, before the gateway: a free-form message outside
  // it fails (a task for a person) with the reason, and is never sent to be refused.
  const refusal = msg.cloudTemplate ? null : windowRefusal(gateway.name, msg);
  if (refusal) {
    await failPart(deps, msg, `Not sent: ${refusal}`);
    return 'failed';
  }

  // This part's turn in the shared throttle: the slot it holds, or a new one.
  const slot = held ?? found.slot ?? (await tq.reserveSlot(db, GATEWAY_THROTTLE, interval));
  const wait = slot.getTime() - Date.now();
  if (wait > inJobWaitMs(settings)) {
    await deps.queue.send<SendJobData>(
      QUEUE_SEND,
      { messageId: msg.id, slotAt: slot.toISOString() },
      { startAfter: slot },
    );
    return 'rescheduled';
  }
  if (wait > 0) await sleep(wait);
  const claim = await mq.claimForSend(db, msg.id);
  if (claim === 'withdrawn') return 'withdrawn';
  if (!claim) return 'skipped';

  let res: Awaited<ReturnType<typeof gateway.sendText>>;
  try {
    const template = msg.cloudTemplate;
    if (template && !gateway.sendTemplate) {
      await failPart(deps, msg, `Not sent: the ${gateway.name} gateway cannot send templates`);
      return 'failed';
    }
    res =
      template && gateway.sendTemplate
        ? await gateway.sendTemplate({
            to: msg.phone,
            name: template.name,
            language: template.language,
            bodyParameters: template.values,
          })
        : msg.type === 'text'
          ? await gateway.sendText({ to: msg.phone, text: msg.body ?? '' })
          : await sendFile(deps, msg);
  } catch (err) {
    const failure = classifySendFailure(err, {
      attempt: job.retryCount + 1,
      maxAttempts: settings.sendMaxAttempts,
      retryAfterMaxSeconds: settings.gatewayRetryAfterMaxSeconds,
    });
    switch (failure.kind) {
      case 'retry-after': {
        // Everyone backs off until the gateway's retry time (capped); this part goes again after it.
        const until = new Date(Date.now() + failure.waitMs);
        const requeued = await db.transaction(async (tx) => {
          const requeued = await requeueUnlessWithdrawn(tx, msg);
          await tq.pushThrottle(tx, GATEWAY_THROTTLE, until);
          if (!requeued) return false;
          await deps.queue.send<SendJobData>(QUEUE_SEND, { messageId: msg.id }, { tx, startAfter: until });
          return true;
        });
        if (failure.capped)
          log.warn(
            { messageId: msg.id, retryAfterMs: failure.retryAfterMs, cappedMs: failure.waitMs },
            'gateway rate limit: its retry time is longer than GATEWAY_RETRY_AFTER_MAX_SECONDS; trying again sooner',
          );
        else
          log.warn({ messageId: msg.id, retryAfterMs: failure.retryAfterMs }, 'gateway rate limit: waiting');
        return requeued ? 'rate-limited' : 'withdrawn';
      }
      case 'may-have-arrived':
      case 'give-up':
      case 'rejected':
        // may-have-arrived: timed out or cut off mid-request, the gateway may have sent it; not sent again.
        await failPart(deps, msg, failure.error);
        return 'failed';
      case 'not-configured':
        await mq.markNotConfigured(db, msg.id, notConfiguredText(gateway.name));
        return 'not-configured';
      case 'backoff':
      case 'unknown':
        // Surely not sent: the job's retry (pg-boss, with backoff) sends it again.
        if (!(await requeueUnlessWithdrawn(db, msg))) return 'withdrawn';
        throw err;
    }
  }
  await recordSent(deps, msg, res.providerId);
  return 'sent';
}

/**
 * A message with a file: the gateway fetches it from a signed public link valid for MEDIA_URL_TTL_SECONDS
 * (WaSender), or reads its bytes (gateways that take an upload).
 */
async function sendFile(
  deps: PipelineDeps,
  msg: { id: string; phone: string; body: string | null },
): Promise<Awaited<ReturnType<PipelineDeps['gateway']['sendText']>>> {
  const file = await mediaQ.byMessage(deps.db, msg.id);
  if (file?.status !== 'stored' || !file.storageKey || !file.mimeType)
    throw new GatewayRejectedError(deps.gateway.name, null, 'the message has no stored file to send');
  return sendStoredFile(deps.gateway, deps.media, {
    to: msg.phone,
    caption: msg.body,
    linkId: file.id,
    file: { kind: file.kind, mimeType: file.mimeType, fileName: file.fileName, storageKey: file.storageKey },
  });
}

/**
 * Records a part the gateway accepted (and schedules the next one). A message the gateway accepted is
 * never put back in the queue: writing this is retried briefly (a dropped connection reconnects at
 * once), and if the database stays unreachable the row stays pending, so the job's retry marks it
 * interrupted for a person rather than sending it again.
 */
async function recordSent(deps: PipelineDeps, msg: SendRow, providerId: string | null) {
  const at = new Date();
  for (const [attempt, retryInMs] of [250, 1000, 4000, -1].entries()) {
    try {
      // Usually one statement does it all (row, event, next part's job); when statuses came first, or
      // on a retry, a transaction applies them and looks at what the previous attempt left.
      if (attempt === 0) {
        const delayMs = deps.persona.replySplitting.delayMs;
        if ((await mq.markSentAlone(deps.db, msg.id, providerId, at, delayMs)) === 'recorded') return;
      }
      await deps.db.transaction(async (tx) => {
        if (attempt > 0) {
          // The previous attempt may have committed and only its answer been lost.
          const row = await mq.findOutboundForSend(tx, msg.id);
          if (row && row.status !== 'pending' && row.gatewayMessageId === providerId) return;
        }
        // Records the message.status event too when the message is sent afterwards.
        const marked = await mq.markSent(tx, msg.id, providerId, at);
        if (marked && !marked.earlyKept) {
          // Nothing came early: the next part read with the update is still the one to send.
          if (marked.nextPartId) await sendPart(tx, deps, marked.nextPartId);
          return;
        }
        // Statuses came first (one may fail this part and the rest): apply them, then look again.
        await applyEarlyStatuses(tx, deps, {
          id: msg.id,
          providerMessageId: null,
          gatewayMessageId: providerId,
        });
        await scheduleNextPart(tx, deps, msg);
      });
      return;
    } catch (err) {
      if (retryInMs < 0) throw err;
      deps.log.warn({ messageId: msg.id, err }, 'recording a sent message failed; retrying');
      await sleep(retryInMs);
    }
  }
}

async function scheduleNextPart(
  tx: DbOrTx,
  deps: PipelineDeps,
  msg: { replyGroup: string | null; partIndex: number },
) {
  if (!msg.replyGroup) return;
  const next = await mq.nextPart(tx, msg.replyGroup, msg.partIndex);
  if (next) await sendPart(tx, deps, next.id);
}

/** Schedules a reply's next part, after the persona's delay between parts. */
async function sendPart(tx: DbOrTx, deps: PipelineDeps, messageId: string) {
  const delay = deps.persona.replySplitting.delayMs;
  await deps.queue.send<SendJob>(
    QUEUE_SEND,
    { messageId },
    { tx, ...(delay > 0 ? { startAfter: new Date(Date.now() + delay) } : {}) },
  );
}

type SendRow = NonNullable<Awaited<ReturnType<typeof mq.findOutboundForSend>>>;

/**
 * Puts a part the gateway turned away unsent back in the queue. False when a person took the
 * conversation over while it was at the gateway: it is failed with that reason now, never sent.
 */
async function requeueUnlessWithdrawn(db: DbOrTx, msg: SendRow): Promise<boolean> {
  if ((await mq.requeue(db, msg.id)) !== 'failed') return true;
  await recordEvents(db, [
    { type: 'message.status', conversationId: msg.conversationId, messageId: msg.id, status: 'failed' },
  ]);
  return false;
}

/**
 * Marks a part that our send could not deliver failed, if it was not sent meanwhile (a receipt is
 * never undone), and applies the failed-message rule: later parts are not sent, a person gets a task.
 */
async function failPart(deps: PipelineDeps, msg: SendRow, error: string) {
  await deps.db.transaction(async (tx) => {
    if (!(await mq.markSendFailed(tx, msg.id, error))) return;
    await handOffFailedMessage(tx, deps, msg, error);
  });
}

/** What a message says when the gateway has no credentials. */
function notConfiguredText(gatewayName: string): string {
  return gatewayName === 'whatsapp-cloud'
    ? 'WHATSAPP_CLOUD_ACCESS_TOKEN or WHATSAPP_CLOUD_PHONE_NUMBER_ID is not configured'
    : 'WASENDER_API_TOKEN is not configured';
}

/** A conversation message queued this long has lost its send job (a live one is sent or rescheduled sooner). */
export const SEND_STALLED_AFTER_MS = 15 * 60_000;

/**
 * Whether replies leave, for `stats.systemStatus` and `/ready`: messages queued far too long, or the
 * gateway throttle blocked further ahead than a capped 429 can push it (plus a margin for a backlog).
 */
export async function sendQueueStatus(
  db: DbOrTx,
  settings: Pick<PipelineDeps['settings'], 'gatewayRetryAfterMaxSeconds'>,
): Promise<SendQueueStatus> {
  const blockedBeyondMs = Math.max(settings.gatewayRetryAfterMaxSeconds * 1000, SEND_STALLED_AFTER_MS);
  const h = await mq.sendQueueHealth(db, {
    throttle: GATEWAY_THROTTLE,
    stalledAfterMs: SEND_STALLED_AFTER_MS,
    blockedBeyondMs,
  });
  const reasons: string[] = [];
  if (h.stalled > 0)
    reasons.push(
      `${h.stalled} message${h.stalled === 1 ? '' : 's'} queued for more than ${SEND_STALLED_AFTER_MS / 60_000} minutes`,
    );
  if (h.blockedUntil) reasons.push(`the gateway throttle is blocked until ${h.blockedUntil.toISOString()}`);
  return {
    reason: reasons.length ? `send queue stalled: ${reasons.join('; ')}` : null,
    queuedTooLong: h.stalled,
    oldestQueuedAt: h.oldestQueuedAt,
    throttleBlockedUntil: h.blockedUntil,
  };
}
