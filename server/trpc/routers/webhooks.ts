import {
  ZOk,
  ZWebhookCreated,
  ZWebhookCreateInput,
  ZWebhookDeliveriesInput,
  ZWebhookDeliveryPage,
  ZWebhookIdInput,
  ZWebhookList,
  ZWebhookReplayInput,
  ZWebhookReplayResult,
  ZWebhookSubscription,
  ZWebhookTestResult,
  ZWebhookUpdateInput,
} from '../../contracts';
import { router } from '../init';
import { adminProcedure } from '../procedures';

/** Outbound webhooks: subscriptions, their delivery log, test pings and replays (admins only). */
export const webhooksRouter = router({
  /** Subscribes a URL to event types; the answer carries the signing secret, shown only this once. */
  create: adminProcedure
    .meta({ openapi: { method: 'POST', path: '/webhooks' } })
    .input(ZWebhookCreateInput)
    .output(ZWebhookCreated)
    .mutation(({ ctx, input }) => ctx.services.webhooks.create(input)),
  list: adminProcedure
    .meta({ openapi: { method: 'GET', path: '/webhooks' } })
    .output(ZWebhookList)
    .query(({ ctx }) => ctx.services.webhooks.list()),
  /** Changes the URL, events, description or active flag (true re-enables a disabled subscription). */
  update: adminProcedure
    .meta({ openapi: { method: 'PATCH', path: '/webhooks/{id}' } })
    .input(ZWebhookUpdateInput)
    .output(ZWebhookSubscription)
    .mutation(({ ctx, input }) => ctx.services.webhooks.update(input)),
  delete: adminProcedure
    .meta({ openapi: { method: 'DELETE', path: '/webhooks/{id}' } })
    .input(ZWebhookIdInput)
    .output(ZOk)
    .mutation(({ ctx, input }) => ctx.services.webhooks.delete(input.id)),
  /** Sends a signed `webhook.test` ping now and answers with the receiver's status. */
  test: adminProcedure
    .meta({ openapi: { method: 'POST', path: '/webhooks/{id}/test' } })
    .input(ZWebhookIdInput)
    .output(ZWebhookTestResult)
    .mutation(({ ctx, input }) => ctx.services.webhooks.test(input.id)),
  /** The delivery log of a subscription, newest first. */
  deliveries: adminProcedure
    .meta({ openapi: { method: 'GET', path: '/webhooks/{subscriptionId}/deliveries' } })
    .input(ZWebhookDeliveriesInput)
    .output(ZWebhookDeliveryPage)
    .query(({ ctx, input }) => ctx.services.webhooks.deliveries(input)),
  /** Sends one delivery again (same webhook-id), or the events of a time range the subscription wants. */
  replay: adminProcedure
    .input(ZWebhookReplayInput)
    .output(ZWebhookReplayResult)
    .mutation(({ ctx, input }) => ctx.services.webhooks.replay(input)),
});
