import { z } from 'zod';
import { ZId, ZPageInput, zPage } from './common';
import { ZAppEvent } from './events';

/**
 * Outbound webhooks: admins subscribe a URL to event types; each event of the log is POSTed to it
 * signed the Standard Webhooks way (`webhook-id`, `webhook-timestamp`, `webhook-signature`).
 */

/** Every event type of the log can be subscribed to; `*` means all of them, including future ones. */
export const WEBHOOK_EVENT_TYPES = ZAppEvent.options.map((o) => o.shape.type.value);
export const ZWebhookEventType = z.enum(['*', ...WEBHOOK_EVENT_TYPES] as [string, ...string[]], {
  error: `must be one of: ${[...WEBHOOK_EVENT_TYPES, '*'].join(', ')}`,
});

export const ZWebhookUrl = z
  .url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL' })
  .max(2000)
  .refine(
    (u) => {
      try {
        const url = new URL(u);
        return !url.username && !url.password;
      } catch {
        return false;
      }
    },
    { error: 'must not carry a user name or password' },
  );

const ZEvents = z
  .array(ZWebhookEventType)
  .min(1, { error: 'name at least one event type' })
  .max(50)
  .transform((list) => [...new Set(list)]);

export const ZWebhookCreateInput = z.object({
  url: ZWebhookUrl,
  events: ZEvents,
  description: z.string().trim().max(500).nullish(),
  active: z.boolean().default(true),
});
export type TWebhookCreateInput = z.input<typeof ZWebhookCreateInput>;

export const ZWebhookUpdateInput = z.object({
  id: ZId,
  url: ZWebhookUrl.optional(),
  events: ZEvents.optional(),
  description: z.string().trim().max(500).nullish(),
  /** true re-enables a subscription the server disabled after sustained failure. */
  active: z.boolean().optional(),
});
export type TWebhookUpdateInput = z.input<typeof ZWebhookUpdateInput>;

export const ZWebhookIdInput = z.object({ id: ZId });

export const ZWebhookSubscription = z.object({
  id: ZId,
  url: z.string(),
  description: z.string().nullable(),
  events: z.array(z.string()),
  active: z.boolean(),
  /** Start of the current run of failed attempts; null when the last attempt succeeded. */
  failingSince: z.date().nullable(),
  /** When and why the server disabled it after sustained failure. */
  disabledAt: z.date().nullable(),
  disabledReason: z.string().nullable(),
  createdAt: z.date(),
  updatedAt: z.date(),
});
export type TWebhookSubscription = z.infer<typeof ZWebhookSubscription>;

/** Returned once, at creation: the signing secret is never shown again. */
export const ZWebhookCreated = ZWebhookSubscription.extend({
  /** Standard Webhooks signing secret (`whsec_` + base64); give it to the receiver's verifier. */
  secret: z.string(),
});

export const ZWebhookList = z.object({ items: z.array(ZWebhookSubscription) });

export const ZWebhookDeliveryState = z.enum(['pending', 'succeeded', 'failed', 'cancelled']);

export const ZWebhookDelivery = z.object({
  id: ZId,
  subscriptionId: ZId,
  eventId: z.number().int().nullable(),
  eventType: z.string(),
  /** The Standard Webhooks message id, the same across retries and replays. */
  webhookId: z.string(),
  replayOf: ZId.nullable(),
  state: ZWebhookDeliveryState,
  attempts: z.number().int(),
  nextAttemptAt: z.date().nullable(),
  lastStatus: z.number().int().nullable(),
  lastError: z.string().nullable(),
  lastDurationMs: z.number().int().nullable(),
  /** The start of the receiver's last answer (at most 1,000 characters). */
  responseExcerpt: z.string().nullable(),
  lastAttemptAt: z.date().nullable(),
  completedAt: z.date().nullable(),
  createdAt: z.date(),
});
export type TWebhookDelivery = z.infer<typeof ZWebhookDelivery>;

export const ZWebhookDeliveriesInput = ZPageInput.extend({
  subscriptionId: ZId,
  state: ZWebhookDeliveryState.optional(),
});
export const ZWebhookDeliveryPage = zPage(ZWebhookDelivery);

export const ZWebhookTestResult = z.object({
  ok: z.boolean(),
  status: z.number().int().nullable(),
  durationMs: z.number().int(),
  error: z.string().nullable(),
  delivery: ZWebhookDelivery,
});

/** Sends one delivery again, or every event of a time range a subscription wants. */
export const ZWebhookReplayInput = z.union([
  z.object({ deliveryId: ZId }),
  z
    .object({
      subscriptionId: ZId,
      from: z.date(),
      to: z.date(),
      /** true (default): only events whose latest delivery did not succeed (or that had none). */
      onlyUndelivered: z.boolean().default(true),
    })
    .refine((r) => r.from < r.to, { error: 'from must be before to', path: ['to'] }),
]);
export type TWebhookReplayInput = z.input<typeof ZWebhookReplayInput>;

export const ZWebhookReplayResult = z.object({ queued: z.number().int() });
