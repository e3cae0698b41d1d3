import { randomUUID } from 'node:crypto';
import type { TAppEvent } from '../contracts';
import { CAMPAIGN_MAX_TEMPLATE_CHARS } from '../contracts';
import { sendStoredFile } from '../conversation/files';
import { applyEarlyStatuses } from '../conversation/statuses';
import { WINDOW_CLOSED_REASON, windowRefusal } from '../conversation/window';
import * as dq from '../db/queries/campaign-recipients';
import * as convQ from '../db/queries/conversations';
import { recordEvents } from '../db/queries/events';
import * as mediaQ from '../db/queries/media';
import * as tq from '../db/queries/throttles';
import { GatewayRejectedError, type SendResult } from '../integrations/gateway';
import { classifySendFailure } from '../integrations/send-policy';
import { sleep } from '../sleep';
import {
  type CampaignDeps,
  campaignThrottle,
  type DispatchJob,
  GATEWAY_THROTTLE,
  inFlightLimitMs,
  QUEUE_CAMPAIGN,
} from './deps';
import { normaliseDefaults, render } from './template';

export type DispatchOutcome =
  | 'not-running'
  | 'held'
  | 'handed-over'
  | 'completed'
  | 'paused'
  | 'stopped'
  | 'lost';

/** Lets a process stop its dispatchers between sends (graceful shutdown). */
export interface DispatchControl {
  readonly signal: AbortSignal;
}

/**
 * One job of a campaign's chain: holds the campaign's lease, sends to its recipients one at a time at
 * the campaign's pace for up to CAMPAIGN_SLICE_SECONDS, then hands over to the next job (same lease
 * owner) or finishes the campaign.
 *
 * Exactly-once, as far as a gateway without idempotency keys allows:
 * - A recipient is claimed under a row lock (SKIP LOCKED) by a statement that also requires the
 *   campaign to be running, so a pause takes effect before the next send and two dispatchers never
 *   take the same recipient.
 * - The claim commits `sending` (and the message row) before the gateway call, and the outcome
 *   commits right after it. A recipient still `sending` after any live send would have ended was
 *   caught by a crash: it is not sent again but recorded as failed with code `unknown` (see
 *   failInterrupted); a later echo or delivery webhook corrects it to sent.
 * - Waiting for the throttles happens before the claim, so a crash while waiting leaves the
 *   recipient pending.
 * The lease (renewed at every step) keeps one dispatcher per campaign; it expires after
 * CAMPAIGN_LEASE_SECONDS when its process dies, and the sweep starts a new chain.
 */
export async function runDispatch(
  deps: CampaignDeps,
  job: DispatchJob & { owner: string },
  ctl: DispatchControl,
): Promise<DispatchOutcome> {
  const { db, settings } = deps;
  const { campaignId, owner } = job;
  await dq.startDueScheduled(db, campaignId);
  const acquired = await dq.acquireLease(db, campaignId, owner, settings.leaseSeconds);
  if (!acquired) return (await dq.isRunning(db, campaignId)) ? 'held' : 'not-running';
  await dq.failInterrupted(db, inFlightLimitMs(settings), campaignId);
  await tq.ensureThrottles(db, [GATEWAY_THROTTLE, campaignThrottle(campaignId)]);

  const run = new CampaignRun(deps, campaignId, owner, ctl);
  const deadline = Date.now() + settings.sliceSeconds * 1000;
  // The claim itself checks that the campaign is running, so the lease (and the campaign's settings)
  // need only be refreshed a few times per lease period, and whenever a step did not send.
  const renewEveryMs = Math.min(1000, (settings.leaseSeconds * 1000) / 4);
  let renewedAt = Date.now();
  let fresh = true;
  let campaign: Campaign = acquired;
  try {
    return await loop();
  } finally {
    await run.flush();
  }

  async function loop(): Promise<DispatchOutcome> {
    for (;;) {
      if (ctl.signal.aborted) {
        // Shutting down: any process may continue at once.
        await dq.releaseLease(db, campaignId, owner);
        await deps.queue.send<DispatchJob>(QUEUE_CAMPAIGN, { campaignId });
        return 'stopped';
      }
      if (!fresh || Date.now() - renewedAt >= renewEveryMs) {
        const renewed = await dq.renewLease(db, campaignId, owner, settings.leaseSeconds);
        if (!renewed) return 'lost';
        campaign = renewed;
        renewedAt = Date.now();
      }
      if (campaign.status !== 'running') {
        await dq.releaseLease(db, campaignId, owner);
        return campaign.status === 'completed' ? 'completed' : 'paused';
      }
      if (!deps.gateway.configured) {
        await run.pause('The WhatsApp gateway is not configured (WASENDER_API_TOKEN)');
        return 'paused';
      }
      if (Date.now() >= deadline) {
        await deps.queue.send<DispatchJob>(QUEUE_CAMPAIGN, { campaignId, owner });
        return 'handed-over';
      }
      const step = await run.step(campaign);
      if (step === 'completed') return 'completed';
      fresh = step === 'sent';
    }
  }
}

type Campaign = dq.DispatchCampaign;

/** Recipients read ahead per query. */
const PEEK = 25;
/** Side writes (events, previews) allowed in flight before the dispatcher waits for them. */
const MAX_BACKGROUND = 32;
/** Lateness of a send this small (timer overshoot) does not move the next send. */
const TIMER_SLACK_MS = 5;
/** How early a claim may take the next gateway slot (at most half the gateway interval). */
const MAX_LEAD_MS = 25;
type StepResult = 'sent' | 'not-sent' | 'waited' | 'completed';

interface Prepared {
  recipientId: string;
  messageId: string;
  conversationId: string;
  phone: string;
  text: string;
  /** The campaign's Cloud template's body values for this recipient (null: no template). */
  templateValues: string[] | null;
  attempts: number;
}

class CampaignRun {
  private lastProgressAt = 0;
  private readonly gatewayIntervalMs: number;
  /** Writes off the critical path (events, the conversation's preview), awaited before the next step. */
  private readonly background = new Set<Promise<void>>();
  /** The next recipients in send order, read ahead. */
  private upcoming: dq.PendingRecipient[] = [];
  /** The campaign slot (epoch ms) reserved for the next send. */
  private nextSlot: number | null = null;
  /** When the gateway slot after our last send starts (epoch ms). */
  private gatewayFreeAt = 0;
  /** A gateway slot due this soon is claimed now and waited for with the recipient claimed. */
  private readonly leadMs: number;

  constructor(
    private readonly deps: CampaignDeps,
    private readonly campaignId: string,
    private readonly owner: string,
    private readonly ctl: DispatchControl,
  ) {
    this.gatewayIntervalMs = 60_000 / deps.settings.sendRatePerMinute;
    this.leadMs = Math.min(MAX_LEAD_MS, this.gatewayIntervalMs / 2);
  }

  /** Waits for the campaign's throttle, then claims (with a gateway slot), sends and records one recipient. */
  async step(campaign: Campaign): Promise<StepResult> {
    const { db } = this.deps;
    if (this.background.size >= MAX_BACKGROUND) await this.flush();
    if (this.nextSlot === null) {
      const slot = await tq.reserveNextSlot(db, campaignThrottle(this.campaignId), this.gap(campaign));
      if (slot === null) {
        await tq.ensureThrottles(db, [campaignThrottle(this.campaignId)]);
        return 'waited';
      }
      this.nextSlot = slot;
    }
    // Our own last gateway slot says when the gateway is free at the earliest. The claim is made a
    // moment before (it holds that slot exactly), so the time a claim takes does not push the
    // gateway's slots later and later.
    if (!(await this.waitUntil(Math.max(this.nextSlot, this.gatewayFreeAt - this.leadMs)))) return 'waited';
    const prepared = await this.claim(campaign);
    if (prepared === 'interrupted') return 'waited';
    // An unused campaign slot is kept for the next recipient.
    if (!prepared) return this.noneClaimed();
    this.nextSlot = null;
    return this.send(campaign, prepared);
  }

  /**
   * The gap after this send: the campaign's average interval, spread at random by its jitter (±half of
   * it), so the campaign keeps its average pace without machine-regular timing. The gateway throttle
   * still spaces every send: a campaign paced at or above the gateway's rate simply runs at that rate.
   */
  private gap(c: Campaign): number {
    const interval = 60_000 / c.ratePerMinute;
    const spread = (interval * c.jitterPercent) / 100;
    return interval - spread / 2 + Math.random() * spread;
  }

  /**
   * Claims the next recipient that can be messaged, with its message rendered and in flight and a
   * gateway slot taken (see claimForSend); recipients who opted out are skipped on the way. Waits while
   * conversation replies are queued for the gateway.
   */
  private async claim(c: Campaign): Promise<Prepared | null | 'interrupted'> {
    const { db } = this.deps;
    const defaults = normaliseDefaults(c.variableDefaults);
    for (;;) {
      if (!this.upcoming.length) this.upcoming = await dq.peekPending(db, this.campaignId, PEEK);
      const next = this.upcoming[0];
      if (!next) return null;
      const { text } = render(c.template, { contact: next, variables: next.variables, defaults });
      if (!text || text.length > CAMPAIGN_MAX_TEMPLATE_CHARS) {
        const why = text ? `longer than ${CAMPAIGN_MAX_TEMPLATE_CHARS} characters` : 'empty';
        await dq.failUnsent(db, next.id, 'invalid_text', `The message for this recipient is ${why}`);
        this.upcoming.shift();
        continue;
      }
      const r = await dq.claimForSend(db, {
        campaignId: this.campaignId,
        recipientId: next.id,
        text,
        newMessageId: randomUUID(),
        attachment: c.attachment,
        gateway: GATEWAY_THROTTLE,
        gatewayIntervalMs: this.gatewayIntervalMs,
        toleranceMs: this.leadMs,
      });
      if (r.kind === 'gateway-busy') {
        if (!(await this.waitUntil(Math.max(r.retryAt, Date.now() + 1)))) return 'interrupted';
        continue;
      }
      this.upcoming.shift();
      if (r.kind === 'skipped') continue;
      if (r.kind === 'gone') {
        // Taken by another dispatcher, or the campaign stopped: look again from the start.
        this.upcoming = [];
        return null;
      }
      // Sent at its slot, and never sooner after our previous send than the gateway interval: a send
      // that went out late (a slow commit, a busy machine) does not squeeze the next one against it.
      // A timer's usual overshoot of a millisecond or two is not counted, or it would add up.
      const sendAt = Math.max(r.slot, this.gatewayFreeAt);
      if (sendAt > Date.now()) await sleep(sendAt - Date.now());
      const late = Date.now() - sendAt;
      this.gatewayFreeAt = (late > TIMER_SLACK_MS ? Date.now() : sendAt) + this.gatewayIntervalMs;
      this.later(
        convQ.touchConversation(db, r.conversationId, { at: new Date(), preview: text, inbound: false }),
        recordEvents(db, [
          {
            type: 'message.created',
            conversationId: r.conversationId,
            messageId: r.messageId,
            direction: 'outbound',
            author: 'campaign',
          },
        ]),
      );
      const templateValues = c.cloudTemplate
        ? c.cloudTemplate.variables.map(
            (v) => render(v, { contact: next, variables: next.variables, defaults }).text || '-',
          )
        : null;
      return {
        recipientId: next.id,
        messageId: r.messageId,
        conversationId: r.conversationId,
        phone: next.phone,
        text,
        templateValues,
        attempts: r.attempts,
      };
    }
  }

  private async send(c: Campaign, p: Prepared): Promise<StepResult> {
    const { db, gateway, log, settings } = this.deps;
    // The Cloud API's 24-hour window, checked before the gateway: outside it the campaign's approved
    // template goes instead, and without one the recipient fails with the reason (never sent to be refused).
    let template: { name: string; language: string; values: string[] } | null = null;
    if (gateway.name === 'whatsapp-cloud') {
      const facts = await convQ.windowFacts(db, p.conversationId);
      const refusal = facts ? windowRefusal(gateway.name, facts) : WINDOW_CLOSED_REASON;
      if (refusal && c.cloudTemplate && p.templateValues && gateway.sendTemplate) {
        template = {
          name: c.cloudTemplate.name,
          language: c.cloudTemplate.language,
          values: p.templateValues,
        };
      } else if (refusal) {
        await this.fail(c, p, 'rejected', `Not sent: ${refusal}`);
        return 'not-sent';
      }
    }
    // The campaign's file goes with the text as its caption; a Cloud template (outside the window) goes
    // without it.
    if (c.attachment && template) await dq.dropAttachment(db, p.messageId);
    const file = c.attachment && !template ? await this.fileOf(p) : null;
    try {
      const res =
        template && gateway.sendTemplate
          ? await gateway.sendTemplate({
              to: p.phone,
              name: template.name,
              language: template.language,
              bodyParameters: template.values,
            })
          : file
            ? await file()
            : await gateway.sendText({ to: p.phone, text: p.text });
      // A crash of the database may lose this commit: the recipient would then fail as `unknown`
      // (never be sent twice), so it need not wait for the disk. The next campaign slot goes with it.
      const [, slot] = await dq.withAsyncCommit(db, (tx) =>
        Promise.all([
          dq
            .recordSent(tx, {
              recipientId: p.recipientId,
              messageId: p.messageId,
              gatewayMessageId: res.providerId,
              at: new Date(),
            })
            // Statuses that came before this send response (kept until the msgId was known).
            .then(() =>
              applyEarlyStatuses(tx, null, {
                id: p.messageId,
                providerMessageId: null,
                gatewayMessageId: res.providerId,
              }),
            ),
          tq.reserveNextSlot(tx, campaignThrottle(this.campaignId), this.gap(c)),
        ]),
      );
      this.nextSlot = slot;
      this.statusEvent(p, 'sent');
      return 'sent';
    } catch (err) {
      const failure = classifySendFailure(err, {
        attempt: p.attempts,
        maxAttempts: settings.maxAttempts,
        retryAfterMaxSeconds: settings.gatewayRetryAfterMaxSeconds,
      });
      switch (failure.kind) {
        case 'retry-after':
          // Nothing was sent: everyone waits until the gateway's retry time, then this recipient goes again.
          await this.requeue(p, false, null);
          await tq.pushThrottle(db, GATEWAY_THROTTLE, new Date(Date.now() + failure.waitMs));
          log.warn(
            { campaignId: this.campaignId, retryAfterMs: failure.retryAfterMs },
            'gateway rate limit: waiting',
          );
          return 'not-sent';
        case 'not-configured':
          await this.requeue(p, false, null);
          await this.pause('The WhatsApp gateway is not configured (WASENDER_API_TOKEN)');
          return 'not-sent';
        case 'backoff':
          // The gateway is failing: this campaign backs off before its next send.
          await this.requeue(p, true, failure.error);
          await tq.pushThrottle(
            db,
            campaignThrottle(this.campaignId),
            new Date(Date.now() + failure.delayMs),
          );
          return 'not-sent';
        case 'give-up':
          await this.fail(c, p, 'unavailable', failure.error);
          return 'not-sent';
        case 'may-have-arrived':
          // Timed out or cut off mid-request: the gateway may have accepted it. Not sent again.
          await this.fail(c, p, 'unknown', failure.error);
          return 'not-sent';
        case 'rejected':
          await this.fail(c, p, 'rejected', failure.error);
          return 'not-sent';
        case 'unknown':
          throw err;
      }
    }
  }

  /**
   * The send of a recipient's media message: the gateway fetches the campaign's stored file from a
   * signed link to this message's media row (WaSender), or reads its bytes (an upload). What cannot be
   * sent is refused before the gateway (the recipient fails as `rejected`, never sent).
   */
  private async fileOf(p: Prepared): Promise<() => Promise<SendResult>> {
    const { gateway, media, db } = this.deps;
    const row = await mediaQ.byMessage(db, p.messageId);
    return async () => {
      if (row?.status !== 'stored' || !row.storageKey || !row.mimeType)
        throw new GatewayRejectedError(gateway.name, null, 'the message has no stored file to send');
      return sendStoredFile(gateway, media, {
        to: p.phone,
        caption: p.text,
        linkId: row.id,
        file: { kind: row.kind, mimeType: row.mimeType, fileName: row.fileName, storageKey: row.storageKey },
      });
    };
  }

  private requeue(p: Prepared, countAttempt: boolean, error: string | null) {
    return dq.requeue(this.deps.db, {
      recipientId: p.recipientId,
      messageId: p.messageId,
      countAttempt,
      error,
    });
  }

  /**
   * Records a failed send, then checks for a spike. With code `unknown` the message may have arrived:
   * the gateway's echo of it (webhook) turns message and recipient to sent.
   */
  private async fail(c: Campaign, p: Prepared, code: 'unavailable' | 'unknown' | 'rejected', error: string) {
    await dq.recordFailed(this.deps.db, { recipientId: p.recipientId, messageId: p.messageId, code, error });
    this.statusEvent(p, 'failed');
    await this.checkFailureSpike(c, error);
  }

  /** Pauses the campaign when its failed share of the recent sends (since its last pause) is too high. */
  private async checkFailureSpike(c: Campaign, lastError: string) {
    const { outcomes, failed } = await dq.recentFailures(
      this.deps.db,
      this.campaignId,
      c.failureWindow,
      c.pausedAt,
    );
    const limit = Math.max(1, Math.ceil((c.failureWindow * c.failureThresholdPercent) / 100));
    if (failed < limit) return;
    const reason = `Paused automatically: ${failed} of the last ${outcomes} sends failed (latest: ${lastError})`;
    this.deps.log.warn(
      { campaignId: this.campaignId, failed, outcomes },
      'campaign failures spiked: pausing',
    );
    await this.pause(reason.slice(0, 500));
  }

  async pause(reason: string) {
    const { db } = this.deps;
    await db.transaction(async (tx) => {
      const paused = await dq.pauseRunning(tx, this.campaignId, reason);
      if (paused) await recordEvents(tx, [{ type: 'campaign.progress', campaignId: this.campaignId }]);
    });
    await dq.releaseLease(db, this.campaignId, this.owner);
  }

  /** Nothing could be claimed: done, waiting for an in-flight send, or another dispatcher holds the rest. */
  private async noneClaimed(): Promise<StepResult> {
    const { db, settings } = this.deps;
    await this.flush();
    const open = await dq.openCounts(db, this.campaignId);
    if (open.pending > 0) {
      await this.waitUntil(Date.now() + 200);
      return 'waited';
    }
    if (open.sending > 0) {
      await dq.failInterrupted(db, inFlightLimitMs(settings), this.campaignId);
      const left = inFlightLimitMs(settings) - (open.oldestClaimMs ?? 0);
      await this.waitUntil(Date.now() + Math.min(1000, Math.max(50, left)));
      return 'waited';
    }
    const completed = await db.transaction(async (tx) => {
      const done = await dq.completeIfDone(tx, this.campaignId);
      if (done) await recordEvents(tx, [{ type: 'campaign.progress', campaignId: this.campaignId }]);
      return done;
    });
    if (!completed) return 'waited';
    await tq.deleteThrottle(db, campaignThrottle(this.campaignId));
    this.deps.log.info({ campaignId: this.campaignId }, 'campaign completed');
    return 'completed';
  }

  /** The message's new status for dashboards, with at most one progress event a second. */
  private statusEvent(p: Prepared, status: 'sent' | 'failed') {
    const events: TAppEvent[] = [
      { type: 'message.status', conversationId: p.conversationId, messageId: p.messageId, status },
    ];
    const now = Date.now();
    if (now - this.lastProgressAt >= 1000) {
      this.lastProgressAt = now;
      events.push({ type: 'campaign.progress', campaignId: this.campaignId });
    }
    this.later(recordEvents(this.deps.db, events));
  }

  /** Runs writes after the change they announce has committed, without holding up the send. */
  private later(...writes: Promise<unknown>[]) {
    for (const write of writes) {
      const tracked: Promise<void> = write.then(
        () => {
          this.background.delete(tracked);
        },
        (err) => {
          this.background.delete(tracked);
          this.deps.log.warn({ err, campaignId: this.campaignId }, 'campaign side write failed');
        },
      );
      this.background.add(tracked);
    }
  }

  async flush() {
    await Promise.all([...this.background]);
  }

  /**
   * Sleeps until `time` (epoch ms), keeping the lease alive on long waits. False when the wait was cut
   * short: the process is stopping, the lease was lost, or the campaign is no longer running.
   */
  private async waitUntil(time: number): Promise<boolean> {
    const { db, settings } = this.deps;
    const chunk = Math.min(2000, (settings.leaseSeconds * 1000) / 3);
    for (;;) {
      if (this.ctl.signal.aborted) return false;
      const ms = time - Date.now();
      if (ms <= 0) return true;
      if (ms <= chunk) {
        await sleep(ms, this.ctl.signal);
        return !this.ctl.signal.aborted;
      }
      await sleep(chunk, this.ctl.signal);
      const c = await dq.renewLease(db, this.campaignId, this.owner, settings.leaseSeconds);
      if (c?.status !== 'running') return false;
    }
  }
}
