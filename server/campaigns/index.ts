import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import * as dq from '../db/queries/campaign-recipients';
import { type CampaignDeps, type DispatchJob, inFlightLimitMs, QUEUE_CAMPAIGN } from './deps';
import { runDispatch } from './dispatch';

export type { CampaignDeps, CampaignSettings } from './deps';

/** What services use to get a campaign dispatched now (Drizzle-free). */
export interface CampaignKicker {
  kick(campaignId: string, at?: Date): Promise<void>;
}

export interface CampaignDispatcher extends CampaignKicker {
  deps: CampaignDeps;
  /** Creates the dispatch queue; every process does this, workers or not. */
  defineQueues(): Promise<void>;
  /** Starts this process's dispatchers and the sweep. */
  startWorkers(): Promise<void>;
  /** Finds due scheduled campaigns, dispatcher-less running ones, and sends interrupted by a crash. */
  sweep(): Promise<void>;
  /** Ends this process's dispatch jobs at their next step; another process (or a restart) continues. */
  stop(): void;
}

/** A dispatcher's name in the lease: host/pid/random, so an operator can tell which process holds a campaign. */
const newOwner = () => `${hostname()}/${process.pid}/${randomUUID().slice(0, 8)}`;

export function createCampaignDispatcher(deps: CampaignDeps): CampaignDispatcher {
  const { queue, log, settings } = deps;
  const stopping = new AbortController();
  let timer: NodeJS.Timeout | undefined;

  async function kick(campaignId: string, at?: Date) {
    await queue.send<DispatchJob>(
      QUEUE_CAMPAIGN,
      { campaignId },
      at && at > new Date() ? { startAfter: at } : {},
    );
    queue.wake(QUEUE_CAMPAIGN);
  }

  async function sweep() {
    for (const id of await dq.startDueScheduled(deps.db)) await kick(id);
    const interrupted = await dq.failInterrupted(deps.db, inFlightLimitMs(settings));
    if (interrupted.length)
      log.warn({ recipients: interrupted.length }, 'sends interrupted by a crash: marked unknown');
    for (const id of await dq.runningWithoutDispatcher(deps.db)) await kick(id);
  }

  return {
    deps,
    kick,
    sweep,
    async defineQueues() {
      await queue.define({
        name: QUEUE_CAMPAIGN,
        retryLimit: 5,
        retryDelay: 5,
        // Jobs end after a slice; this only bounds a job whose process died (the lease takes over sooner).
        expireInSeconds: settings.sliceSeconds + 900,
      });
    },
    async startWorkers() {
      await queue.work<DispatchJob>(QUEUE_CAMPAIGN, { concurrency: settings.concurrency }, async (job) => {
        const owner = job.data.owner ?? newOwner();
        try {
          const outcome = await runDispatch(deps, { ...job.data, owner }, { signal: stopping.signal });
          log.debug({ campaignId: job.data.campaignId, outcome }, 'campaign dispatch job done');
        } catch (err) {
          // Keep the chain alive: the same owner picks up again after a short pause.
          log.error({ err, campaignId: job.data.campaignId }, 'campaign dispatch failed; retrying shortly');
          if (!stopping.signal.aborted) {
            await queue.send<DispatchJob>(
              QUEUE_CAMPAIGN,
              { campaignId: job.data.campaignId, owner },
              { startAfter: new Date(Date.now() + 5000) },
            );
          }
        }
      });
      const run = () => sweep().catch((err) => log.error({ err }, 'campaign sweep failed'));
      await run();
      timer = setInterval(run, settings.sweepSeconds * 1000);
      timer.unref();
    },
    stop() {
      if (timer) clearInterval(timer);
      stopping.abort();
    },
  };
}
