import { and, eq, inArray } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { conversations, messages, tasks, throttles } from '../../drizzle';
import { newId, type PipelineHarness, startPipeline, statusWebhook, textWebhook } from '../helpers/pipeline';

/**
 * Send jobs never outlive their timeout (pg-boss would hand them to another worker while the first
 * still runs), a 429's retry time is capped, no status moves back, and a stalled send queue shows.
 */

const db = (h: PipelineHarness) => h.runtime.database.db;

async function statuses(h: PipelineHarness, ids: string[]) {
  return db(h)
    .select({ id: messages.id, status: messages.status, error: messages.error })
    .from(messages)
    .where(inArray(messages.id, ids));
}

async function startMany(h: PipelineHarness, phones: string[], text: (p: string) => string) {
  const ids: string[] = [];
  await Promise.all(
    phones.map(async (phone) => {
      const r = await h.caller('agent').conversations.start({ phone, text: text(phone) });
      ids.push(...r.messageIds);
    }),
  );
  return ids;
}

describe('a slow throttle and a slow gateway near the job timeout', () => {
  let h: PipelineHarness;
  beforeAll(async () => {
    h = await startPipeline({
      // Slots 2 s apart and a job timeout of 3 s: most sends wait longer for their slot than a job may run.
      SEND_RATE_PER_MINUTE: '30',
      SEND_JOB_TIMEOUT_SECONDS: '3',
      JOB_MAINTENANCE_SECONDS: '1',
      // A gateway call may take longer than the job may run: the job expires during the call.
      WASENDER_TIMEOUT_MS: '6000',
    });
  });
  afterAll(() => h?.closeAll());

  it('every message is sent once, none fails, none stays queued', async () => {
    const phones = Array.from({ length: 6 }, (_, i) => `1415555061${i}`);
    // Slow answers from the gateway, close to its timeout.
    h.wasender.script(...phones.map(() => ({ delayMs: 4500 })));
    const ids = await startMany(h, phones, (p) => `Hello ${p}, your order is ready`);
    await expect
      .poll(async () => (await statuses(h, ids)).map((r) => r.status).sort(), {
        timeout: 60_000,
        interval: 500,
      })
      .toEqual(ids.map(() => 'sent'));
    // Let any stray job (a retry of an expired one) run out.
    await new Promise((r) => setTimeout(r, 4000));
    for (const phone of phones) expect(h.wasender.sent.filter((s) => s.to === `+${phone}`)).toHaveLength(1);
    const rows = await statuses(h, ids);
    expect(rows.every((r) => r.status === 'sent')).toBe(true);
    const convIds = (
      await db(h)
        .select({ conversationId: messages.conversationId })
        .from(messages)
        .where(inArray(messages.id, ids))
    ).map((r) => r.conversationId);
    const openTasks = await db(h).select().from(tasks).where(inArray(tasks.conversationId, convIds));
    expect(openTasks).toEqual([]);
  }, 90_000);
});

describe('a 429 storm with a huge retry_after', () => {
  let h: PipelineHarness;
  beforeAll(async () => {
    h = await startPipeline({ GATEWAY_RETRY_AFTER_MAX_SECONDS: '1', SEND_JOB_TIMEOUT_SECONDS: '10' });
  });
  afterAll(() => h?.closeAll());

  it('the wait is capped: the messages go out once, the throttle is not blocked for a day', async () => {
    h.wasender.script(...Array.from({ length: 4 }, () => ({ status: 429, retryAfter: 86_400 })), {
      status: 429,
      retryAfterHeader: '86400',
      retryAfter: null,
    });
    const phones = ['14155550620', '14155550621', '14155550622'];
    const ids = await startMany(h, phones, (p) => `Order update for ${p}`);
    await expect
      .poll(async () => (await statuses(h, ids)).map((r) => r.status), { timeout: 30_000, interval: 300 })
      .toEqual(ids.map(() => 'sent'));
    for (const phone of phones) expect(h.wasender.sent.filter((s) => s.to === `+${phone}`)).toHaveLength(1);
    const [bucket] = await db(h).select().from(throttles).where(eq(throttles.name, 'gateway'));
    expect(bucket!.nextSlotAt.getTime()).toBeLessThan(Date.now() + 60_000);
    const status = await h.caller('admin').stats.systemStatus();
    expect(status.sendQueue.stalled).toBe(false);
  }, 60_000);
});

describe('statuses never move back; a stalled queue shows', () => {
  let h: PipelineHarness;
  beforeAll(async () => {
    h = await startPipeline({ WASENDER_TIMEOUT_MS: '2000' });
  });
  afterAll(() => h?.closeAll());

  it('a gateway timeout after the message was delivered does not make it failed', async () => {
    const phone = '14155550630';
    h.wasender.script({ hang: true });
    const [id] = await startMany(h, [phone], () => 'Your booking is confirmed');
    await expect.poll(async () => (await statuses(h, [id!]))[0]?.status).toBe('pending');
    // WhatsApp shows it went out and arrived while the gateway's answer never comes.
    const key = newId();
    await h.post(textWebhook({ phone, id: key, text: 'Your booking is confirmed', fromMe: true }));
    await h.post(statusWebhook(key, 3));
    expect((await statuses(h, [id!]))[0]?.status).toBe('delivered');
    // The client gives up after WASENDER_TIMEOUT_MS: "no answer, may have arrived".
    await new Promise((r) => setTimeout(r, 3500));
    const [row] = await statuses(h, [id!]);
    expect(row).toMatchObject({ status: 'delivered' });
    const [conv] = await db(h)
      .select()
      .from(conversations)
      .innerJoin(messages, eq(messages.conversationId, conversations.id))
      .where(eq(messages.id, id!));
    const openTasks = await db(h)
      .select()
      .from(tasks)
      .where(and(eq(tasks.conversationId, conv!.conversations.id)));
    expect(openTasks).toEqual([]);
    expect(conv!.conversations.owner).toBe('bot');
  });

  it('a message queued with no job, or a throttle blocked for a day, shows in systemStatus and /ready', async () => {
    const http = await h.app();
    expect((await http.inject({ method: 'GET', url: '/ready' })).statusCode).toBe(200);
    let status = await h.caller('admin').stats.systemStatus();
    expect(status.sendQueue).toMatchObject({ stalled: false, reason: null, queuedTooLong: 0 });

    const [conv] = await db(h).select({ id: conversations.id }).from(conversations).limit(1);
    const [lost] = await db(h)
      .insert(messages)
      .values({
        conversationId: conv!.id,
        direction: 'outbound',
        author: 'bot',
        body: 'a reply whose job was lost',
        status: 'queued',
        createdAt: new Date(Date.now() - 20 * 60_000),
      })
      .returning({ id: messages.id });
    status = await h.caller('admin').stats.systemStatus();
    expect(status.status).toBe('degraded');
    expect(status.sendQueue.stalled).toBe(true);
    expect(status.sendQueue.queuedTooLong).toBe(1);
    expect(status.sendQueue.reason).toMatch(/queued for more than/);
    let ready = await http.inject({ method: 'GET', url: '/ready' });
    expect(ready.statusCode).toBe(503);
    expect(ready.json()).toMatchObject({ ready: false, sendQueue: expect.stringMatching(/queued/) });

    await db(h).delete(messages).where(eq(messages.id, lost!.id));
    await db(h)
      .insert(throttles)
      .values({ name: 'gateway', nextSlotAt: new Date(Date.now() + 86_400_000) })
      .onConflictDoUpdate({ target: throttles.name, set: { nextSlotAt: new Date(Date.now() + 86_400_000) } });
    status = await h.caller('admin').stats.systemStatus();
    expect(status.sendQueue.stalled).toBe(true);
    expect(status.sendQueue.throttleBlockedUntil).not.toBeNull();
    ready = await http.inject({ method: 'GET', url: '/ready' });
    expect(ready.statusCode).toBe(503);
    expect(ready.json().sendQueue).toMatch(/throttle is blocked/);
  });
});
