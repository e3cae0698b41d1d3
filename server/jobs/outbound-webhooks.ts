import { randomUUID } from 'node:crypto';
import type postgres from 'postgres';
import { Webhook } from 'standardwebhooks';
import { EVENTS_CHANNEL, recordEvents } from '../db/queries/events';
import * as q from '../db/queries/webhooks';
import type { Db, DbOrTx } from '../db/types';
import { postWebhook } from '../integrations/outbound-webhooks';
import type { Logger } from '../logger';
import { sleep } from '../sleep';
import type { JobQueue } from './queue';

/**
 * Outbound webhook deliveries.
 *
 * Fan-out: a durable cursor over the events log (`webhook_cursor`). Workers read the events after
 * the cursor and, in ONE transaction, lock the cursor row, insert a delivery row per (subscription,
 * event) wanted, enqueue one `webhooks.deliver` job per new delivery, and move the cursor. A process
 * killed at any point leaves either nothing done (the next read starts from the same cursor) or all of
 * it (rows and jobs committed together). Event ids come from a sequence, so a transaction may commit a
 * smaller id after a larger one was read: the cursor stops below such a gap for `gapGraceMs` while the
 * events after it are fanned out already (the unique (subscription, event) row makes that idempotent).
 *
 * Delivery: each job claims its delivery's next attempt with a conditional update (pending, due, not
 * held by a live worker), POSTs the signed body, and records the outcome only if the attempt is still
 * its own. A failed attempt schedules the next job in the transaction that records it. A job run twice
 * finds the attempt claimed or done and does nothing; a worker killed mid-attempt leaves a hold that
 * lapses, and pg-boss retries the job. Every attempt of one delivery carries the same `webhook-id`.
 */

export const QUEUE_WEBHOOK_DELIVER = 'webhooks.deliver';
export const FAN_OUT_CURSOR = 'events';
const CURSOR = FAN_OUT_CURSOR;
const BATCH = 500;
const EXCERPT_CHARS = 1000;
const RESPONSE_MAX_BYTES = 64 * 1024;

export interface OutboundWebhookSettings {
  allowPrivate: boolean;
  timeoutMs: number;
  /** Seconds before each retry; a delivery gets 1 + length attempts. */
  retrySeconds: number[];
  disableAfterSeconds: number;
  pollMs: number;
  concurrency: number;
}

/** How long a skipped event id is waited for before the cursor passes it. */
const GAP_GRACE_MS = 30_000;

export interface DeliverJob {
  deliveryId: string;
}

export interface AttemptOutcome {
  ok: boolean;
  status: number | null;
  durationMs: number;
  error: string | null;
}

export interface OutboundWebhooks {
  defineQueues(): Promise<void>;
  startWorkers(): Promise<void>;
  stop(): Promise<void>;
  /** Fans out the events after the cursor; returns the deliveries created. */
  fanOut(): Promise<number>;
  /** Enqueues jobs for deliveries inside the caller's transaction (replays). */
  enqueue(tx: DbOrTx, deliveryIds: string[]): Promise<void>;
  /** Tells the workers that jobs were enqueued (after the commit). */
  wake(): void;
  /** Makes one attempt of a delivery now, without retries (test pings). */
  attemptOnce(deliveryId: string): Promise<AttemptOutcome | null>;
  /** Runs a delivery job as a worker would (exposed for tests of idempotence). */
  runJob(job: DeliverJob): Promise<void>;
  readonly settings: OutboundWebhookSettings;
}

/** The body receivers get: Standard Webhooks' recommended `{ type, timestamp, data }`. */
export function webhookBody(e: {
  id: number;
  type: string;
  payload: Record<string, unknown>;
  createdAt: Date;
}) {
  const { type: _type, ...data } = e.payload;
  return { type: e.type, timestamp: e.createdAt.toISOString(), data: { eventId: e.id, ...data } };
}

export const newWebhookId = () => `msg_${randomUUID().replaceAll('-', '')}`;

export const wants = (events: string[], type: string) => events.includes('*') || events.includes(type);

/** Least time between the starts of two fan-out rounds: a burst of events costs a round per this. */
const FAN_OUT_SPACING_MS = 25;

export function createOutboundWebhooks(deps: {
  db: Db;
  sql: postgres.Sql;
  mode: 'embedded' | 'postgres';
  queue: JobQueue;
  log: Logger;
  settings: OutboundWebhookSettings;
}): OutboundWebhooks {
  const { db, queue, log, settings } = deps;
  const gapGraceMs = GAP_GRACE_MS;
  const holdMs = settings.timeoutMs + 5_000;
  let timer: NodeJS.Timeout | null = null;
  let listener: { unlisten(): Promise<void> } | null = null;
  let running: Promise<void> | null = null;
  let again = false;
  let stopped = false;
  let lastSweep = 0;
  let lastRound = 0;

  async function enqueue(tx: DbOrTx, ids: string[]) {
    for (const deliveryId of ids) await queue.send<DeliverJob>(QUEUE_WEBHOOK_DELIVER, { deliveryId }, { tx });
  }

  async function fanOut(): Promise<number> {
    let total = 0;
    for (;;) {
      const { created, more } = await fanOutBatch();
      total += created;
      if (!more || stopped) return total;
    }
  }

  async function fanOutBatch(): Promise<{ created: number; more: boolean }> {
    // No subscription, no work: one read instead of a locked transaction per wake-up. The cursor
    // stays put; the first subscription made active moves it to the latest event.
    if (!(await q.hasActiveSubscription(db))) return { created: 0, more: false };
    const result = await db.transaction(async (tx) => {
      const cursor = await q.lockCursor(tx, CURSOR);
      if (cursor === null) {
        // First run: deliveries start with the events that come after it.
        await q.createCursor(tx, CURSOR, await q.maxEventId(tx));
        return { created: 0, more: false };
      }
      const subs = await q.activeSubscriptions(tx);
      if (!subs.length) return { created: 0, more: false };
      const rows = await q.eventsForFanOut(tx, cursor, BATCH);
      if (!rows.length) return { created: 0, more: false };
      let next = cursor;
      let blocked = false;
      const deliveries: q.NewWebhookDelivery[] = [];
      for (const row of rows) {
        // The cursor moves over contiguous ids, and over a gap once the event after it is old enough
        // that the transaction holding the missing id has surely committed or rolled back.
        if (!blocked) {
          if (row.id === next + 1 || Number(row.ageMs) > gapGraceMs) next = row.id;
          else blocked = true;
        }
        for (const s of subs) {
          if (!wants(s.events, row.type) || row.createdAt < s.createdAt) continue;
          deliveries.push({
            subscriptionId: s.id,
            eventId: row.id,
            eventType: row.type,
            webhookId: newWebhookId(),
            payload: webhookBody(row),
            nextAttemptAt: new Date(),
          });
        }
      }
      const ids = await q.insertDeliveries(tx, deliveries);
      await enqueue(tx, ids);
      if (next > cursor) await q.moveCursor(tx, CURSOR, next);
      // A full batch read past a gap not yet passed is read again on the next tick, not now.
      return { created: ids.length, more: rows.length === BATCH && next === rows.at(-1)!.id };
    });
    if (result.created) wake();
    return result;
  }

  function wake() {
    queue.wake(QUEUE_WEBHOOK_DELIVER);
  }

  /** Enqueues again deliveries whose job was lost (pg-boss gave up on a job during repeated crashes). */
  async function sweep() {
    const ids = await q.overdueDeliveries(db, Math.max(5 * 60_000, holdMs * 2), 100);
    if (!ids.length) return;
    await db.transaction((tx) => enqueue(tx, ids));
    wake();
  }

  async function tick() {
    do {
      // Events that arrive in quick succession share a round (one read while no subscription).
      const wait = lastRound + FAN_OUT_SPACING_MS - Date.now();
      if (wait > 0) await sleep(wait);
      again = false;
      lastRound = Date.now();
      await fanOut();
      if (Date.now() - lastSweep > 60_000) {
        lastSweep = Date.now();
        await sweep();
      }
    } while (again && !stopped);
  }

  function poke() {
    if (stopped) return;
    if (running) {
      again = true;
      return;
    }
    running = tick()
      .catch((err) => log.error({ err }, 'outbound webhook fan-out failed'))
      .finally(() => {
        running = null;
      });
  }

  function sign(secret: string, webhookId: string, body: string) {
    const at = new Date();
    return {
      'webhook-id': webhookId,
      'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
      'webhook-signature': new Webhook(secret).sign(webhookId, at, body),
    };
  }

  /** One attempt: claim, POST, record. `retry` false makes the first outcome final (test pings). */
  async function attempt(deliveryId: string, retry: boolean): Promise<AttemptOutcome | null> {
    const current = await q.getDelivery(db, deliveryId);
    if (current?.state !== 'pending') return null;
    const sub = await q.getSubscription(db, current.subscriptionId);
    if (!sub) return null;
    if (!sub.active && current.eventId !== null) {
      await q.cancelDelivery(db, deliveryId, 'the subscription is disabled');
      return null;
    }
    const claimed = await q.claimDelivery(db, deliveryId, holdMs);
    if (!claimed) return null;
    const body = JSON.stringify(claimed.payload);
    const result = await postWebhook({
      url: sub.url,
      body,
      headers: sign(sub.secret, claimed.webhookId, body),
      timeoutMs: settings.timeoutMs,
      allowPrivate: settings.allowPrivate,
      maxResponseBytes: RESPONSE_MAX_BYTES,
      excerptChars: EXCERPT_CHARS,
    });
    const ok = result.error === null;
    const outcome = { ok, status: result.status, durationMs: result.durationMs, error: result.error };
    const common = {
      lastStatus: result.status,
      lastError: result.error,
      lastDurationMs: result.durationMs,
      responseExcerpt: result.excerpt,
    };
    const attempts = claimed.attempts;
    let disabled = false;
    await db.transaction(async (tx) => {
      if (ok) {
        const mine = await q.finishAttempt(tx, deliveryId, attempts, {
          ...common,
          state: 'succeeded',
          completedAt: new Date(),
          nextAttemptAt: null,
        });
        if (mine && retry && sub.failingSince) await q.updateSubscription(tx, sub.id, { failingSince: null });
        return;
      }
      const wait = settings.retrySeconds[attempts - 1];
      if (retry && wait !== undefined) {
        const nextAttemptAt = new Date(Date.now() + wait * 1000);
        const mine = await q.finishAttempt(tx, deliveryId, attempts, { ...common, nextAttemptAt });
        if (!mine) return;
        await queue.send<DeliverJob>(
          QUEUE_WEBHOOK_DELIVER,
          { deliveryId },
          { tx, startAfter: nextAttemptAt },
        );
      } else {
        const mine = await q.finishAttempt(tx, deliveryId, attempts, {
          ...common,
          state: 'failed',
          completedAt: new Date(),
          nextAttemptAt: null,
        });
        if (!mine || !retry) return;
      }
      // The subscription's run of failures, and the disable once it has lasted through a delivery's
      // last retry for at least `disableAfterSeconds`.
      const fresh = await q.getSubscription(tx, sub.id);
      if (!fresh) return;
      const since = fresh.failingSince ?? new Date();
      if (!fresh.failingSince) await q.updateSubscription(tx, sub.id, { failingSince: since });
      if (
        wait === undefined &&
        fresh.active &&
        Date.now() - since.getTime() >= settings.disableAfterSeconds * 1000
      ) {
        const reason = `every delivery failed since ${since.toISOString()} (last: ${result.error})`;
        await q.updateSubscription(tx, sub.id, {
          active: false,
          disabledAt: new Date(),
          disabledReason: reason.slice(0, 500),
        });
        await recordEvents(tx, [
          { type: 'webhook.disabled', subscriptionId: sub.id, reason: reason.slice(0, 500) },
        ]);
        disabled = true;
      }
    });
    if (disabled)
      log.warn({ subscriptionId: sub.id }, 'outbound webhook subscription disabled after sustained failure');
    else if (!ok)
      log.info({ deliveryId, attempt: attempts, error: result.error }, 'outbound webhook attempt failed');
    return outcome;
  }

  async function runJob(job: DeliverJob) {
    await attempt(job.deliveryId, true);
  }

  return {
    settings,
    fanOut,
    enqueue,
    wake,
    runJob,
    attemptOnce: (id) => attempt(id, false),
    async defineQueues() {
      await queue.define({
        name: QUEUE_WEBHOOK_DELIVER,
        // Retries here are for a worker lost mid-attempt; the delivery's own schedule is its rows.
        retryLimit: 20,
        retryDelay: 5,
        retryBackoff: true,
        expireInSeconds: Math.ceil(holdMs / 1000) + 10,
      });
    },
    async startWorkers() {
      await queue.work<DeliverJob>(QUEUE_WEBHOOK_DELIVER, { concurrency: settings.concurrency }, (job) =>
        runJob(job.data),
      );
      timer = setInterval(poke, settings.pollMs);
      timer.unref();
      if (deps.mode === 'postgres') {
        listener = await deps.sql.listen(EVENTS_CHANNEL, poke, poke).catch((err: unknown) => {
          log.warn({ err }, 'could not listen for events; outbound webhooks poll instead');
          return null;
        });
      }
      poke();
    },
    async stop() {
      stopped = true;
      if (timer) clearInterval(timer);
      timer = null;
      await listener?.unlisten().catch(() => {});
      listener = null;
      await running;
    },
  };
}
