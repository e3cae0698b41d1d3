import { randomBytes } from 'node:crypto';
import type { z } from 'zod';
import type {
  TWebhookCreateInput,
  TWebhookDelivery,
  TWebhookReplayInput,
  TWebhookSubscription,
  TWebhookUpdateInput,
  ZWebhookCreated,
  ZWebhookDeliveriesInput,
  ZWebhookDeliveryPage,
  ZWebhookTestResult,
} from '../contracts';
import * as q from '../db/queries/webhooks';
import type { Db, DbOrTx } from '../db/types';
import { badRequest, conflict, notFound } from '../errors';
import { checkDestination } from '../integrations/outbound-webhooks';
import { FAN_OUT_CURSOR, newWebhookId, wants, webhookBody } from '../jobs/outbound-webhooks';
import { decodeCursor, toPage } from './pagination';

/**
 * Outbound webhook subscriptions (admins): create, list, update, delete, a test ping, the delivery
 * log, and replays. Deliveries themselves run in server/jobs/outbound-webhooks.ts.
 */
export interface WebhooksService {
  /** Returns the new subscription with its signing secret, the only time the secret is shown. */
  create(input: TWebhookCreateInput): Promise<z.infer<typeof ZWebhookCreated>>;
  list(): Promise<{ items: TWebhookSubscription[] }>;
  update(input: TWebhookUpdateInput): Promise<TWebhookSubscription>;
  delete(id: string): Promise<{ ok: true }>;
  /** POSTs a signed `webhook.test` ping now (no retries) and logs it as a delivery. */
  test(id: string): Promise<z.infer<typeof ZWebhookTestResult>>;
  deliveries(input: z.input<typeof ZWebhookDeliveriesInput>): Promise<z.infer<typeof ZWebhookDeliveryPage>>;
  replay(input: TWebhookReplayInput): Promise<{ queued: number }>;
}

/** What the service needs of the delivery engine. */
export interface WebhookDeliveryEngine {
  enqueue(tx: DbOrTx, deliveryIds: string[]): Promise<void>;
  wake(): void;
  attemptOnce(
    deliveryId: string,
  ): Promise<{ ok: boolean; status: number | null; durationMs: number; error: string | null } | null>;
}

const SCOPE = 'webhook-deliveries';
const REPLAY_MAX_EVENTS = 10_000;

export const newWebhookSecret = () => `whsec_${randomBytes(32).toString('base64')}`;

function toDelivery(row: q.WebhookDeliveryRow): TWebhookDelivery {
  return {
    id: row.id,
    subscriptionId: row.subscriptionId,
    eventId: row.eventId === null ? null : Number(row.eventId),
    eventType: row.eventType,
    webhookId: row.webhookId,
    replayOf: row.replayOf,
    state: row.state as TWebhookDelivery['state'],
    attempts: row.attempts,
    nextAttemptAt: row.nextAttemptAt,
    lastStatus: row.lastStatus,
    lastError: row.lastError,
    lastDurationMs: row.lastDurationMs,
    responseExcerpt: row.responseExcerpt,
    lastAttemptAt: row.lastAttemptAt,
    completedAt: row.completedAt,
    createdAt: row.createdAt,
  };
}

export function createWebhooksService(deps: {
  db: Db;
  engine: WebhookDeliveryEngine;
  allowPrivate: boolean;
}): WebhooksService {
  const { db, engine } = deps;

  async function checkUrl(url: string) {
    const problem = await checkDestination(url, deps.allowPrivate);
    if (problem)
      throw badRequest(`url: ${problem} (set OUTBOUND_WEBHOOKS_ALLOW_PRIVATE=true to allow it)`, {
        url: [problem],
      });
  }

  async function requireSubscription(id: string) {
    const row = await q.getSubscription(db, id);
    if (!row) throw notFound('Webhook subscription', id);
    return row;
  }

  return {
    async create(input) {
      await checkUrl(input.url);
      const secret = newWebhookSecret();
      const row = await db.transaction(async (tx) => {
        // The fan-out starts here if it never ran (workers may start later, in another process):
        // the events recorded from now on reach this subscription even before a worker runs.
        await q.createCursor(tx, FAN_OUT_CURSOR, await q.maxEventId(tx));
        // While no subscription is active the fan-out does no work and its cursor stays where it is:
        // the first active subscription starts it at the latest event.
        if ((input.active ?? true) && !(await q.hasActiveSubscription(tx)))
          await q.catchUpCursor(tx, FAN_OUT_CURSOR);
        return q.insertSubscription(tx, {
          url: input.url,
          events: [...new Set(input.events)],
          description: input.description ?? null,
          active: input.active ?? true,
          secret,
        });
      });
      const { secret: shown, ...rest } = row;
      return { ...rest, secret: shown };
    },

    async list() {
      return { items: await q.listSubscriptions(db) };
    },

    async update(input) {
      const current = await requireSubscription(input.id);
      if (input.url !== undefined) await checkUrl(input.url);
      const patch: Parameters<typeof q.updateSubscription>[2] = {};
      if (input.url !== undefined) patch.url = input.url;
      if (input.events !== undefined) patch.events = [...new Set(input.events)];
      if (input.description !== undefined) patch.description = input.description;
      if (input.active !== undefined) {
        patch.active = input.active;
        // Re-enabled: the run of failures starts over.
        if (input.active && !current.active) {
          patch.disabledAt = null;
          patch.disabledReason = null;
          patch.failingSince = null;
        }
      }
      if (!Object.keys(patch).length) {
        const { secret: _s, ...rest } = current;
        return rest;
      }
      const row = await db.transaction(async (tx) => {
        if (input.active && !current.active && !(await q.hasActiveSubscription(tx)))
          await q.catchUpCursor(tx, FAN_OUT_CURSOR);
        return q.updateSubscription(tx, input.id, patch);
      });
      if (!row) throw notFound('Webhook subscription', input.id);
      return row;
    },

    async delete(id) {
      if (!(await q.deleteSubscription(db, id))) throw notFound('Webhook subscription', id);
      return { ok: true };
    },

    async test(id) {
      const sub = await requireSubscription(id);
      const now = new Date();
      const [row] = await q.insertDeliveryRows(db, [
        {
          subscriptionId: sub.id,
          eventId: null,
          eventType: 'webhook.test',
          webhookId: newWebhookId(),
          payload: { type: 'webhook.test', timestamp: now.toISOString(), data: { subscriptionId: sub.id } },
        },
      ]);
      const outcome = await engine.attemptOnce(row!.id);
      const after = (await q.getDelivery(db, row!.id)) ?? row!;
      return {
        ok: outcome?.ok ?? false,
        status: outcome?.status ?? null,
        durationMs: outcome?.durationMs ?? 0,
        error: outcome ? outcome.error : 'the ping was not sent',
        delivery: toDelivery(after),
      };
    },

    async deliveries(input) {
      await requireSubscription(input.subscriptionId);
      const limit = input.limit ?? 25;
      const scope = `${SCOPE}:${input.subscriptionId}:${input.state ?? 'all'}`;
      const rows = await q.listDeliveries(db, {
        subscriptionId: input.subscriptionId,
        state: input.state,
        after: decodeCursor(scope, input.cursor, 'timestamptz'),
        limit,
      });
      return toPage(scope, rows, limit, ({ sortKey: _, ...row }) => toDelivery(row));
    },

    async replay(input) {
      if ('deliveryId' in input) {
        const original = await q.getDelivery(db, input.deliveryId);
        if (!original) throw notFound('Webhook delivery', input.deliveryId);
        const sub = await requireSubscription(original.subscriptionId);
        if (!sub.active)
          throw conflict('The subscription is disabled: enable it (webhooks.update) before replaying');
        if (original.state === 'pending') throw conflict('The delivery is still being attempted');
        await db.transaction(async (tx) => {
          const [row] = await q.insertDeliveryRows(tx, [
            {
              subscriptionId: original.subscriptionId,
              eventId: original.eventId,
              eventType: original.eventType,
              webhookId: original.webhookId,
              payload: original.payload,
              replayOf: original.replayOf ?? original.id,
              nextAttemptAt: new Date(),
            },
          ]);
          await engine.enqueue(tx, [row!.id]);
        });
        engine.wake();
        return { queued: 1 };
      }
      const sub = await requireSubscription(input.subscriptionId);
      if (!sub.active)
        throw conflict('The subscription is disabled: enable it (webhooks.update) before replaying');
      const types = sub.events.includes('*') ? null : sub.events;
      const evts = await q.eventsInRange(db, {
        from: input.from,
        to: input.to,
        types,
        limit: REPLAY_MAX_EVENTS + 1,
      });
      if (evts.length > REPLAY_MAX_EVENTS)
        throw badRequest(`The range holds more than ${REPLAY_MAX_EVENTS} events: replay a shorter range`, {
          to: [`more than ${REPLAY_MAX_EVENTS} events in the range`],
        });
      const onlyUndelivered = input.onlyUndelivered ?? true;
      const queued = await db.transaction(async (tx) => {
        const latest = new Map(
          (
            await q.latestDeliveriesOf(
              tx,
              sub.id,
              evts.map((e) => e.id),
            )
          ).map((d) => [Number(d.eventId), d]),
        );
        const firsts: q.NewWebhookDelivery[] = [];
        const replays: q.NewWebhookDelivery[] = [];
        for (const e of evts) {
          if (!wants(sub.events, e.type)) continue;
          const last = latest.get(e.id);
          if (last?.state === 'pending') continue;
          if (last && onlyUndelivered && last.state === 'succeeded') continue;
          const base = {
            subscriptionId: sub.id,
            eventId: e.id,
            eventType: e.type,
            payload: webhookBody(e),
            nextAttemptAt: new Date(),
          };
          if (last) replays.push({ ...base, webhookId: last.webhookId, replayOf: last.replayOf ?? last.id });
          else firsts.push({ ...base, webhookId: newWebhookId() });
        }
        const ids = [
          ...(await q.insertDeliveries(tx, firsts)),
          ...(await q.insertDeliveryRows(tx, replays)).map((r) => r.id),
        ];
        await engine.enqueue(tx, ids);
        return ids.length;
      });
      if (queued) engine.wake();
      return { queued };
    },
  };
}
