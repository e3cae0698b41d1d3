import * as mq from '../db/queries/messages';
import * as tq from '../db/queries/throttle';
import type { DbOrTx } from '../db/types';
import { recordEvents } from '../events/record';
import {
  GatewayNotConfiguredError,
  GatewayRateLimitedError,
  GatewayRejectedError,
  GatewayTransientError,
  mayHaveArrived,
} from '../integrations/gateway';
import { type PipelineDeps, QUEUE_SEND, type SendJob } from './deps';
import { handOff } from './handoff';

export const GATEWAY_THROTTLE = 'gateway';

export type SendOutcome = 'sent' | 'skipped' | 'rate-limited' | 'failed' | 'not-configured' | 'interrupted';

/**
 * Sends one outbound message part through the gateway, at most once.
 *
 * The row is claimed (queued → pending) before the gateway call. A retry that finds it still pending
 * means a previous attempt died after claiming it: the gateway may or may not have accepted it, so it
 * is marked failed for a person to check instead of risking a duplicate in the customer's chat. The
 * same holds for a request that got no answer (`mayHaveArrived`); errors that surely left the message
 * unsent (an HTTP error status, no connection) are retried with backoff.
 */
export async function runSendJob(
  deps: PipelineDeps,
  job: { data: SendJob; retryCount: number },
): Promise<SendOutcome> {
  const { db, gateway, settings, log } = deps;
  const msg = await mq.findOutboundForSend(db, job.data.messageId);
  if (!msg) return 'skipped';
  if (msg.status === 'pending') {
    await failPart(deps, msg, 'Sending was interrupted; it may not have been delivered');
    return 'interrupted';
  }
  if (msg.status !== 'queued') return 'skipped';
  if (!gateway.configured) {
    await mq.setStatus(db, msg.id, 'not_configured', 'WASENDER_API_TOKEN is not configured');
    return 'not-configured';
  }

  // Wait for this process's turn in the shared throttle, then claim the row.
  const slot = await tq.reserveSlot(db, GATEWAY_THROTTLE, 60_000 / settings.sendRatePerMinute);
  const wait = slot.getTime() - Date.now();
  if (wait > 0) await sleep(wait);
  if (!(await mq.claimForSend(db, msg.id))) return 'skipped';

  let res: Awaited<ReturnType<typeof gateway.sendText>>;
  try {
    res = await gateway.sendText({ to: msg.phone, text: msg.body ?? '' });
  } catch (err) {
    if (err instanceof GatewayRateLimitedError) {
      // Everyone backs off until the gateway's retry time; this part goes again after it.
      const until = new Date(Date.now() + err.retryAfterMs);
      await db.transaction(async (tx) => {
        await mq.setStatus(tx, msg.id, 'queued', null);
        await tq.pushThrottle(tx, GATEWAY_THROTTLE, until);
        await deps.queue.send<SendJob>(QUEUE_SEND, { messageId: msg.id }, { tx, startAfter: until });
      });
      log.warn({ messageId: msg.id, retryAfterMs: err.retryAfterMs }, 'gateway rate limit: waiting');
      return 'rate-limited';
    }
    if (err instanceof GatewayTransientError && mayHaveArrived(err)) {
      // Timed out or cut off mid-request: the gateway may have sent it. Not sent again.
      await failPart(deps, msg, `No answer from the gateway (${err.message}); the message may have arrived`);
      return 'failed';
    }
    if (err instanceof GatewayTransientError) {
      if (job.retryCount >= settings.sendMaxAttempts - 1) {
        await failPart(deps, msg, `Gateway unavailable after ${job.retryCount + 1} attempts: ${err.message}`);
        return 'failed';
      }
      await mq.setStatus(db, msg.id, 'queued', null);
      throw err;
    }
    if (err instanceof GatewayRejectedError) {
      await failPart(deps, msg, `Rejected by the gateway: ${err.reason}`);
      return 'failed';
    }
    if (err instanceof GatewayNotConfiguredError) {
      await mq.setStatus(db, msg.id, 'not_configured', 'WASENDER_API_TOKEN is not configured');
      return 'not-configured';
    }
    await mq.setStatus(db, msg.id, 'queued', null);
    throw err;
  }
  await recordSent(deps, msg, res.providerId);
  return 'sent';
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
      await deps.db.transaction(async (tx) => {
        if (attempt > 0) {
          // The previous attempt may have committed and only its answer been lost.
          const row = await mq.findOutboundForSend(tx, msg.id);
          if (row && row.status !== 'pending' && row.gatewayMessageId === providerId) return;
        }
        await mq.markSent(tx, msg.id, providerId, at);
        await recordEvents(tx, [
          { type: 'message.status', conversationId: msg.conversationId, messageId: msg.id, status: 'sent' },
        ]);
        await scheduleNextPart(tx, deps, msg);
      });
      return;
    } catch (err) {
      if (retryInMs < 0) throw err;
      deps.log.warn(
        { messageId: msg.id, err: (err as Error).message },
        'recording a sent message failed; retrying',
      );
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
  if (!next) return;
  const delay = deps.persona.replySplitting.delayMs;
  await deps.queue.send<SendJob>(
    QUEUE_SEND,
    { messageId: next.id },
    { tx, ...(delay > 0 ? { startAfter: new Date(Date.now() + delay) } : {}) },
  );
}

type SendRow = NonNullable<Awaited<ReturnType<typeof mq.findOutboundForSend>>>;

/**
 * Marks a part (and the parts after it) failed. A conversation message that could not be sent goes
 * to a person, with a task saying why; campaign messages are accounted for by their campaign.
 */
async function failPart(deps: PipelineDeps, msg: SendRow, error: string) {
  await deps.db.transaction(async (tx) => {
    await mq.setStatus(tx, msg.id, 'failed', error);
    if (msg.replyGroup)
      await mq.failRemainingParts(tx, msg.replyGroup, msg.partIndex, 'An earlier part failed');
    await recordEvents(tx, [
      { type: 'message.status', conversationId: msg.conversationId, messageId: msg.id, status: 'failed' },
    ]);
    if (!msg.campaignId) {
      await handOff(tx, deps, {
        conversationId: msg.conversationId,
        contactId: msg.contactId,
        customerLabel: msg.phone,
        reason: 'A message could not be sent',
        actorType: 'system',
        message: null,
        taskTitle: `Message to ${msg.phone} was not sent: ${error}`.slice(0, 300),
      });
    }
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
