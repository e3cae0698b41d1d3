import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { TAppEvent } from '../../server/contracts';
import { recordEvents } from '../../server/db/queries/events';
import { waitUntil } from '../helpers/reliability';
import { createTestRuntime, type TestRuntime } from '../helpers/runtime';
import { type Receiver, startReceiver } from './receiver';

/**
 * Outbound webhooks end to end in one process (workers on): events recorded in the log reach a real
 * receiver on 127.0.0.1, signed the Standard Webhooks way, retried with the same webhook-id while the
 * receiver fails, disabled after sustained failure, and replayed on request.
 */

let t: TestRuntime;
let receiver: Receiver;

beforeAll(async () => {
  t = await createTestRuntime(
    {
      OUTBOUND_WEBHOOKS_ALLOW_PRIVATE: 'true',
      // Retries at once (no wall-clock waits); five attempts per delivery.
      OUTBOUND_WEBHOOKS_RETRY_SECONDS: '0,0,0,0',
      OUTBOUND_WEBHOOKS_DISABLE_AFTER_SECONDS: '0',
      OUTBOUND_WEBHOOKS_POLL_MS: '50',
      OUTBOUND_WEBHOOKS_TIMEOUT_MS: '2000',
    },
    { workers: true },
  );
});
afterAll(async () => {
  await t?.close();
});
afterEach(async () => {
  // Each test starts with no subscription.
  const admin = t.caller('admin');
  for (const s of (await admin.webhooks.list()).items) await admin.webhooks.delete({ id: s.id });
  await receiver?.close();
});

const messageEvent = (): TAppEvent => ({
  type: 'message.created',
  conversationId: randomUUID(),
  messageId: randomUUID(),
  direction: 'inbound',
  author: 'contact',
});

async function record(list: TAppEvent[]) {
  await t.runtime.database.db.transaction((tx) => recordEvents(tx, list));
}

async function subscribe(events: string[] = ['*']) {
  receiver = await startReceiver();
  const created = await t.caller('admin').webhooks.create({ url: receiver.url, events });
  receiver.secret = created.secret;
  // The fan-out starts after the events present now; wait until it has taken its place.
  await t.runtime.webhooks.fanOut();
  return created;
}

describe('outbound webhooks', () => {
  it('creates a subscription with a Standard Webhooks secret shown once', async () => {
    const created = await subscribe(['message.created']);
    expect(created.secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    const listed = await t.caller('admin').webhooks.list();
    expect(listed.items).toHaveLength(1);
    expect(JSON.stringify(listed)).not.toContain(created.secret);
    expect(listed.items[0]).not.toHaveProperty('secret');
  });

  it('delivers every event signed, retries with the same webhook-id while the receiver fails, and delivers everything after it recovers', async () => {
    const sub = await subscribe(['message.created', 'conversation.owner']);
    let failures = 0;
    receiver.respond = () => (failures++ < 3 ? 500 : 200);
    const first = messageEvent();
    await record([first]);
    await waitUntil(
      'the first event to be delivered',
      () => receiver.received.some((r) => r.answered === 200),
      {
        timeoutMs: 20_000,
      },
    );
    // Three more after recovery, one of a type the subscription does not want.
    await record([
      messageEvent(),
      { type: 'conversation.owner', conversationId: randomUUID(), owner: 'human', reason: 'x' },
    ]);
    await record([{ type: 'campaign.progress', campaignId: randomUUID() }, messageEvent()]);
    await waitUntil('four events delivered', () => receiver.byEvent().size === 4, { timeoutMs: 20_000 });

    expect(receiver.received.every((r) => r.verified !== null)).toBe(true);
    const byEvent = receiver.byEvent();
    const retried = [...byEvent.values()].find((list) => list.length > 1)!;
    expect(retried.map((r) => r.answered)).toEqual([500, 500, 500, 200]);
    expect(new Set(retried.map((r) => r.webhookId)).size).toBe(1);
    expect(retried[0]!.verified!.type).toBe('message.created');
    expect(retried[0]!.verified!.data).toMatchObject({
      messageId: (first as { messageId: string }).messageId,
    });
    const ids = [...byEvent.values()].map((l) => l[0]!.webhookId);
    expect(new Set(ids).size).toBe(4);
    expect([...byEvent.values()].map((l) => l[0]!.verified!.type).sort()).toEqual([
      'conversation.owner',
      'message.created',
      'message.created',
      'message.created',
    ]);

    const log = await t.caller('admin').webhooks.deliveries({ subscriptionId: sub.id });
    expect(log.items).toHaveLength(4);
    const retriedRow = log.items.find((d) => d.webhookId === retried[0]!.webhookId)!;
    expect(retriedRow).toMatchObject({
      state: 'succeeded',
      attempts: 4,
      lastStatus: 200,
      responseExcerpt: 'ok',
    });
    expect(log.items.every((d) => d.state === 'succeeded')).toBe(true);
    const health = await t.caller('admin').stats.systemStatus();
    expect(health.outboundWebhooks).toMatchObject({ disabled: 0, failing: 0, notice: null });
  });

  it('disables a subscription after sustained failure, with an event and a notice in the system status', async () => {
    const sub = await subscribe(['message.created']);
    receiver.respond = () => 503;
    await record([messageEvent()]);
    await waitUntil(
      'the subscription to be disabled',
      async () => !(await t.caller('admin').webhooks.list()).items[0]!.active,
      { timeoutMs: 20_000 },
    );
    expect(receiver.received.map((r) => r.answered)).toEqual([503, 503, 503, 503, 503]);
    const [listed] = (await t.caller('admin').webhooks.list()).items;
    expect(listed).toMatchObject({ active: false });
    expect(listed!.disabledReason).toContain('HTTP 503');
    const [row] = (await t.caller('admin').webhooks.deliveries({ subscriptionId: sub.id })).items;
    expect(row).toMatchObject({ state: 'failed', attempts: 5, lastStatus: 503 });
    const status = await t.caller('admin').stats.systemStatus();
    expect(status.outboundWebhooks.disabled).toBe(1);
    expect(status.outboundWebhooks.notice).toContain('disabled');
    const logged = await t.runtime.database.sql`select payload from events where type = 'webhook.disabled'`;
    expect(logged.map((r) => r.payload)).toContainEqual(expect.objectContaining({ subscriptionId: sub.id }));

    // Disabled: new events are not delivered. Re-enabled: the status notice clears.
    await record([messageEvent()]);
    await t.runtime.webhooks.fanOut();
    expect(receiver.received).toHaveLength(5);
    await t.caller('admin').webhooks.update({ id: sub.id, active: true });
    expect((await t.caller('admin').stats.systemStatus()).outboundWebhooks.disabled).toBe(0);
  });

  it('replays one delivery with the same webhook-id, and a time range including events missed while disabled', async () => {
    const sub = await subscribe(['message.created']);
    const [{ ms }] = await t.runtime.database.sql<[{ ms: number }]>`
      select (extract(epoch from clock_timestamp()) * 1000)::float8 as ms`;
    const from = new Date(Number(ms));
    await record([messageEvent()]);
    await waitUntil('the event to be delivered', () => receiver.received.length === 1, { timeoutMs: 20_000 });
    const admin = t.caller('admin');
    const [delivered] = (await admin.webhooks.deliveries({ subscriptionId: sub.id })).items;
    expect(await admin.webhooks.replay({ deliveryId: delivered!.id })).toEqual({ queued: 1 });
    await waitUntil('the replay', () => receiver.received.length === 2, { timeoutMs: 20_000 });
    expect(receiver.received[1]!.webhookId).toBe(receiver.received[0]!.webhookId);
    expect(receiver.received[1]!.verified).not.toBeNull();

    // Missed while switched off.
    await admin.webhooks.update({ id: sub.id, active: false });
    await record([messageEvent(), messageEvent()]);
    await t.runtime.webhooks.fanOut();
    await admin.webhooks.update({ id: sub.id, active: true });
    const to = new Date(Date.now() + 1000);
    // Only what was not delivered: the two missed events.
    expect(await admin.webhooks.replay({ subscriptionId: sub.id, from, to })).toEqual({ queued: 2 });
    await waitUntil('the missed events', () => receiver.byEvent().size === 3, { timeoutMs: 20_000 });
    expect(receiver.received).toHaveLength(4);
    // Everything again when asked.
    expect(await admin.webhooks.replay({ subscriptionId: sub.id, from, to, onlyUndelivered: false })).toEqual(
      {
        queued: 3,
      },
    );
    await waitUntil('the full replay', () => receiver.received.length === 7, { timeoutMs: 20_000 });
    expect(receiver.received.every((r) => r.verified !== null)).toBe(true);
    for (const list of receiver.byEvent().values())
      expect(new Set(list.map((r) => r.webhookId)).size).toBe(1);
  });

  it('does no fan-out work without a subscription, and the first one starts at the latest event', async () => {
    const cursor = async () =>
      Number(
        (
          await t.runtime.database.sql<[{ id: string }?]>`
            select last_event_id::text as id from webhook_cursor`
        )[0]?.id ?? -1,
      );
    const deliveryCount = async () =>
      Number(
        (
          await t.runtime.database.sql<[{ n: string }]>`
            select count(*)::text as n from webhook_deliveries`
        )[0].n,
      );
    const before = await cursor();
    const deliveriesBefore = await deliveryCount();
    await record([messageEvent(), messageEvent(), messageEvent()]);
    expect(await t.runtime.webhooks.fanOut()).toBe(0);
    // The cursor did not move and nothing was written for events nobody subscribed to.
    expect(await cursor()).toBe(before);
    expect(await deliveryCount()).toBe(deliveriesBefore);

    // A new subscription gets only what is recorded after it, however far behind the cursor was.
    await subscribe(['message.created']);
    const [{ latest }] = await t.runtime.database.sql<[{ latest: string }]>`
      select coalesce(max(id), 0)::text as latest from events`;
    expect(await cursor()).toBeGreaterThanOrEqual(Number(latest));
    await record([messageEvent()]);
    await waitUntil('the new event', () => receiver.received.length === 1, { timeoutMs: 20_000 });
    await new Promise((r) => setTimeout(r, 300));
    expect(receiver.received).toHaveLength(1);
  });

  it('sends a signed test ping and logs it', async () => {
    const sub = await subscribe(['message.created']);
    const result = await t.caller('admin').webhooks.test({ id: sub.id });
    expect(result).toMatchObject({ ok: true, status: 200, error: null });
    expect(result.delivery).toMatchObject({ eventType: 'webhook.test', state: 'succeeded', attempts: 1 });
    expect(receiver.received[0]!.verified).toMatchObject({
      type: 'webhook.test',
      data: { subscriptionId: sub.id },
    });
    receiver.respond = () => 500;
    const failed = await t.caller('admin').webhooks.test({ id: sub.id });
    expect(failed).toMatchObject({ ok: false, status: 500 });
    expect(failed.delivery.state).toBe('failed');
    // A failed ping does not count against the subscription.
    expect((await t.caller('admin').webhooks.list()).items[0]).toMatchObject({
      active: true,
      failingSince: null,
    });
  });
});
