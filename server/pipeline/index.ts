import {
  type PipelineDeps,
  QUEUE_MEDIA,
  QUEUE_REPLY,
  QUEUE_SEND,
  type ReplyJob,
  type SendJob,
} from '../conversation/deps';
import { setOwner } from '../conversation/ownership';
import * as convQ from '../db/queries/conversations';
import { ingestItems } from './ingest';
import { type MediaJob, runMediaJob } from './media';
import type { WebhookItem } from './payload';
import { runReplyJob } from './reply';
import { runSendJob } from './send';

export interface Pipeline {
  deps: PipelineDeps;
  /** Stores webhook items; fast, no AI or gateway work on this path. */
  ingest(items: WebhookItem[]): ReturnType<typeof ingestItems>;
  /** Starts this process's workers (reply, send) and the automatic hand-back sweep. */
  startWorkers(): Promise<void>;
  stop(): void;
}

/** Creates the job queues the pipeline uses; every process does this, workers or not. */
export async function definePipelineQueues(deps: PipelineDeps) {
  const { settings } = deps;
  await deps.queue.define({
    name: QUEUE_REPLY,
    retryLimit: settings.aiMaxAttempts - 1,
    retryDelay: 2,
    retryBackoff: true,
    expireInSeconds: settings.replyJobTimeoutSeconds,
  });
  await deps.queue.define({
    name: QUEUE_SEND,
    retryLimit: settings.sendMaxAttempts - 1,
    retryDelay: 2,
    retryBackoff: true,
    expireInSeconds: settings.sendJobTimeoutSeconds,
  });
  // Inbound media downloads (enqueued with the message by the inbound statement).
  await deps.queue.define({
    name: QUEUE_MEDIA,
    retryLimit: MEDIA_MAX_ATTEMPTS - 1,
    retryDelay: 5,
    retryBackoff: true,
    expireInSeconds: 300,
  });
}

/** Tries of a media download (then the file is marked failed and the bot answers without it). */
export const MEDIA_MAX_ATTEMPTS = 4;

/**
 * A reply job due for longer than this without a free worker belongs to a backlog (a replay of many
 * messages, a burst beyond the workers): conversations whose job fell due more recently are answered
 * first, and the backlog drains behind them, oldest first.
 */
export const REPLY_FRESH_SECONDS = 10;

export function createPipeline(deps: PipelineDeps): Pipeline {
  let sweep: NodeJS.Timeout | undefined;
  return {
    deps,
    ingest: (items) => ingestItems(deps, items),
    async startWorkers() {
      await deps.queue.work<ReplyJob>(
        QUEUE_REPLY,
        { concurrency: deps.settings.replyConcurrency, freshSeconds: REPLY_FRESH_SECONDS },
        async (job) => {
          try {
            const outcome = await runReplyJob(deps, job);
            deps.log.debug({ conversationId: job.data.conversationId, outcome }, 'reply job done');
            // Its parts are queued: this process's send workers take them.
            deps.queue.wake(QUEUE_SEND, { local: true });
          } finally {
            // After the reply's sends are under way, whatever the reply's outcome.
            await afterCustomerMessage(deps, job.data);
          }
        },
      );
      await deps.queue.work<SendJob>(
        QUEUE_SEND,
        { concurrency: deps.settings.sendConcurrency },
        async (job) => {
          const outcome = await runSendJob(deps, job);
          deps.log.debug({ messageId: job.data.messageId, outcome }, 'send job done');
          // A sent part may have queued the reply's next part.
          if (outcome === 'sent') deps.queue.wake(QUEUE_SEND, { local: true });
        },
      );
      await deps.queue.work<MediaJob>(QUEUE_MEDIA, { concurrency: 4 }, async (job) => {
        const outcome = await runMediaJob(deps, job, MEDIA_MAX_ATTEMPTS);
        deps.log.debug({ mediaId: job.data.mediaId, outcome }, 'media job done');
      });
      sweep = setInterval(() => {
        resumeQuietConversations(deps).catch((err) => deps.log.error({ err }, 'hand-back sweep failed'));
      }, 30_000);
      sweep.unref();
    },
    stop() {
      if (sweep) clearInterval(sweep);
    },
  };
}

/** The follow-up work of a customer's messages (one cheap enqueue); its failure never fails the reply. */
async function afterCustomerMessage(deps: PipelineDeps, job: ReplyJob): Promise<void> {
  if (!deps.afterCustomerMessage) return;
  try {
    await deps.afterCustomerMessage(job.conversationId);
  } catch (err) {
    deps.log.warn({ err, conversationId: job.conversationId }, 'could not schedule the lead follow-up');
  }
}

/** Gives conversations back to the bot once their human owner has been quiet long enough. */
export async function resumeQuietConversations(deps: PipelineDeps): Promise<number> {
  const due = await convQ.conversationsDueForResume(deps.db, new Date(), 100);
  let n = 0;
  for (const { id } of due) {
    const changed = await deps.db.transaction((tx) =>
      setOwner(
        tx,
        {
          conversationId: id,
          to: 'bot',
          actorType: 'system',
          reason: 'No agent activity during the quiet time',
        },
        { humanQuietMinutes: deps.settings.humanQuietMinutes },
      ),
    );
    if (changed) n++;
  }
  return n;
}
