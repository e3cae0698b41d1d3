import { and, eq, sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { campaignRecipients, contacts, messages } from '../../drizzle';
import { type PipelineHarness, startPipeline, statusWebhook, textWebhook } from '../helpers/pipeline';
import { FAST_CAMPAIGNS, phones, seedContacts, sendsPerPhone, statusCounts, waitFor } from './support';

/**
 * Campaign dispatch end to end: a server with workers, the fake WaSender over HTTP, and the webhook for
 * delivery statuses and replies. Runs on PGlite and on Postgres.
 */

let h: PipelineHarness;
beforeAll(async () => {
  h = await startPipeline(FAST_CAMPAIGNS);
});
afterAll(() => h?.closeAll());

const db = () => h.runtime.database.db;
const api = () => h.caller('agent');

async function finished(id: string, timeoutMs = 30_000) {
  return waitFor(
    async () => {
      const c = await api().campaigns.get({ id });
      return c.status === 'completed' ? c : null;
    },
    { timeoutMs, describe: () => statusCounts(db(), id) },
  );
}

function sentTo(list: string[]) {
  const wanted = new Set(list);
  return h.wasender.sent.filter((s) => wanted.has(s.to));
}

describe('dispatch', () => {
  it('sends every recipient one rendered message, records it in their conversation, and completes with exact figures', async () => {
    const list = phones(30, 2_000_000);
    const seeded = await seedContacts(db(), list, { company: 'Acme' });
    await db().update(contacts).set({ company: null }).where(eq(contacts.phone, list[0]!));
    const created = await api().campaigns.create({
      name: 'Spring offer',
      template: 'Hi {{first_name}}, news for {{company|your team}}!',
      audience: { contactIds: seeded.map((c) => c.id) },
    });
    expect(created.status).toBe('draft');
    await api().campaigns.start({ id: created.id });
    const done = await finished(created.id);

    const got = sentTo(list);
    expect(got).toHaveLength(30);
    expect([...sendsPerPhone(got).values()].every((n) => n === 1)).toBe(true);
    expect(got.find((s) => s.to === list[0])!.text).toBe('Hi Customer, news for your team!');
    expect(got.find((s) => s.to === list[1])!.text).toBe('Hi Customer, news for Acme!');
    expect(done.figures).toMatchObject({
      total: 30,
      sent: 30,
      pending: 0,
      sending: 0,
      failed: 0,
      skipped: 0,
    });
    expect(done.completedAt).not.toBeNull();

    const rows = await db()
      .select({ author: messages.author, status: messages.status, campaignId: messages.campaignId })
      .from(messages)
      .where(eq(messages.campaignId, created.id));
    expect(rows).toHaveLength(30);
    expect(rows.every((r) => r.author === 'campaign' && r.status === 'sent')).toBe(true);
  });

  it('skips contacts who opted out after the campaign was created (checked at send time)', async () => {
    const list = phones(10, 2_100_000);
    const seeded = await seedContacts(db(), list);
    const c = await api().campaigns.create({
      name: 'Opt-out check',
      template: 'Hello {{name}}',
      audience: { contactIds: seeded.map((s) => s.id) },
    });
    await db()
      .update(contacts)
      .set({ optedOutAt: new Date() })
      .where(sql`${contacts.phone} in (${list[2]}, ${list[7]})`);
    await api().campaigns.start({ id: c.id });
    const done = await finished(c.id);
    expect(done.figures).toMatchObject({ total: 10, sent: 8, skipped: 2 });
    const got = sentTo(list);
    expect(got.map((s) => s.to).sort()).toEqual(list.filter((_, i) => i !== 2 && i !== 7).sort());
    const skipped = await api().campaigns.recipients({ id: c.id, status: 'skipped' });
    expect(skipped.items.map((r) => r.errorCode)).toEqual(['opted_out', 'opted_out']);
  });

  it('pauses before the next send and resumes where it stopped, sending no one twice', async () => {
    const list = phones(40, 2_200_000);
    const seeded = await seedContacts(db(), list);
    const c = await api().campaigns.create({
      name: 'Pause me',
      template: 'Hi {{name}}',
      audience: { contactIds: seeded.map((s) => s.id) },
      ratePerMinute: 600,
    });
    await api().campaigns.start({ id: c.id });
    await waitFor(() => sentTo(list).length >= 5);
    const paused = await api().campaigns.pause({ id: c.id, reason: 'Checking replies' });
    expect(paused.status).toBe('paused');
    expect(paused.pausedReason).toBe('Checking replies');
    // A send already under way may finish; after that nothing moves while paused.
    await waitFor(async () => (await api().campaigns.get({ id: c.id })).figures.sending === 0);
    const atPause = sentTo(list).length;
    await new Promise((r) => setTimeout(r, 800));
    expect(sentTo(list).length).toBe(atPause);
    expect(atPause).toBeLessThan(40);

    await api().campaigns.resume({ id: c.id });
    const done = await finished(c.id);
    expect(done.figures).toMatchObject({ total: 40, sent: 40 });
    const got = sentTo(list);
    expect(got).toHaveLength(40);
    expect(new Set(got.map((s) => s.to)).size).toBe(40);
  });

  it('starts a scheduled campaign at its time, not before', async () => {
    const list = phones(3, 2_900_000);
    const seeded = await seedContacts(db(), list);
    const c = await api().campaigns.create({
      name: 'Later',
      template: 'Hi {{name}}',
      audience: { contactIds: seeded.map((s) => s.id) },
    });
    const at = new Date(Date.now() + 1500);
    expect((await api().campaigns.schedule({ id: c.id, at })).status).toBe('scheduled');
    const done = await finished(c.id);
    expect(done.figures).toMatchObject({ total: 3, sent: 3 });
    expect(sentTo(list).every((s) => s.at >= at.getTime())).toBe(true);
  });

  it('honours 429s from the gateway: waits for retry_after, then sends each recipient once', async () => {
    const list = phones(6, 2_300_000);
    const seeded = await seedContacts(db(), list);
    const c = await api().campaigns.create({
      name: 'Rate limited',
      template: 'Hi {{name}}',
      audience: { contactIds: seeded.map((s) => s.id) },
    });
    const before = h.wasender.requests.length;
    h.wasender.script({ status: 429, retryAfter: 1 });
    await api().campaigns.start({ id: c.id });
    await finished(c.id);
    const got = sentTo(list);
    expect(got).toHaveLength(6);
    expect(new Set(got.map((s) => s.to)).size).toBe(6);
    const requests = h.wasender.requests.slice(before);
    expect(requests).toHaveLength(7);
    // The send after the 429 waited for its retry_after (1 s).
    expect(requests[1]!.at - requests[0]!.at).toBeGreaterThanOrEqual(950);
  });

  it('keeps every recipient exactly once when the gateway limits its rate below the campaign pace', async () => {
    const list = phones(25, 2_400_000);
    const seeded = await seedContacts(db(), list);
    const c = await api().campaigns.create({
      name: 'Over the limit',
      template: 'Hi {{name}}',
      audience: { contactIds: seeded.map((s) => s.id) },
    });
    h.wasender.setRatePerSecond(10);
    try {
      const rejectedBefore = h.wasender.rejected.length;
      await api().campaigns.start({ id: c.id });
      const done = await finished(c.id, 60_000);
      expect(h.wasender.rejected.length).toBeGreaterThan(rejectedBefore);
      expect(done.figures).toMatchObject({ total: 25, sent: 25 });
      const got = sentTo(list);
      expect(got).toHaveLength(25);
      expect(new Set(got.map((s) => s.to)).size).toBe(25);
    } finally {
      h.wasender.setRatePerSecond(null);
    }
  });

  it('pauses by itself when failures spike, with the reason, and carries on after a resume', async () => {
    const list = phones(10, 2_500_000);
    const seeded = await seedContacts(db(), list);
    const c = await api().campaigns.create({
      name: 'Spiky',
      template: 'Hi {{name}}',
      audience: { contactIds: seeded.map((s) => s.id) },
      autoPause: { window: 4, failurePercent: 50 },
    });
    h.wasender.script({ status: 400, message: 'number not on WhatsApp' }, { status: 400 }, { status: 400 });
    await api().campaigns.start({ id: c.id });
    const paused = await waitFor(async () => {
      const d = await api().campaigns.get({ id: c.id });
      return d.status === 'paused' ? d : null;
    });
    expect(paused.pausedReason).toMatch(/^Paused automatically: 2 of the last 2 sends failed/);
    expect(paused.figures).toMatchObject({ failed: 2, sent: 0, pending: 8 });
    const failed = await api().campaigns.recipients({ id: c.id, status: 'failed' });
    expect(failed.items[0]).toMatchObject({ errorCode: 'rejected' });
    expect(failed.items[0]!.error).toContain('number not on WhatsApp');

    // After a resume the window starts again: one more failure does not pause it.
    await api().campaigns.resume({ id: c.id });
    const done = await finished(c.id);
    expect(done.figures).toMatchObject({ total: 10, failed: 3, sent: 7 });

    // retryFailed sends the failed ones again.
    const retried = await api().campaigns.retryFailed({ id: c.id });
    expect(retried.requeued).toBe(3);
    const again = await finished(c.id);
    expect(again.figures).toMatchObject({ total: 10, sent: 10, failed: 0 });
  });

  it('moves recipients along with delivery webhooks and counts replies', async () => {
    const list = phones(3, 2_600_000);
    const seeded = await seedContacts(db(), list);
    const c = await api().campaigns.create({
      name: 'Tracked',
      template: 'Hi {{name}}',
      audience: { contactIds: seeded.map((s) => s.id) },
    });
    await api().campaigns.start({ id: c.id });
    await finished(c.id);
    const sends = sentTo(list);
    const status = (s: (typeof sends)[number], value: string) =>
      statusWebhook(`WA${s.msgId}`, value, { phone: s.to.slice(1), msgId: s.msgId });
    expect((await h.post(status(sends[0]!, 'delivered'))).status).toBe(200);
    expect((await h.post(status(sends[1]!, 'read'))).status).toBe(200);
    // Late or repeated statuses never move a recipient back.
    expect((await h.post(status(sends[1]!, 'delivered'))).status).toBe(200);
    expect((await h.post(textWebhook({ phone: list[2]!.slice(1), text: 'Tell me more' }))).status).toBe(200);

    const d = await api().campaigns.get({ id: c.id });
    expect(d.figures).toMatchObject({ total: 3, sent: 1, delivered: 1, read: 1, replied: 1 });
    expect(d.rates.delivery).toBeCloseTo(2 / 3);
    expect(d.rates.reply).toBeCloseTo(1 / 3);
    const replied = await db()
      .select({ phone: campaignRecipients.phone })
      .from(campaignRecipients)
      .where(and(eq(campaignRecipients.campaignId, c.id), sql`${campaignRecipients.repliedAt} is not null`));
    expect(replied.map((r) => r.phone)).toEqual([list[2]]);
  });

  it('answers a customer promptly while a campaign is running (replies are not starved)', async () => {
    // The campaign runs at the gateway's own rate, so it would take every slot if replies had to queue.
    const list = phones(1000, 2_700_000);
    const seeded = await seedContacts(db(), list);
    const c = await api().campaigns.create({
      name: 'Big one',
      template: 'Hi {{name}}',
      audience: { contactIds: seeded.map((s) => s.id) },
    });
    await api().campaigns.start({ id: c.id });
    await waitFor(() => sentTo(list).length >= 10);
    const customer = '14155559901';
    await h.post(textWebhook({ phone: customer, text: 'Hello?' }));
    await waitFor(() => h.wasender.sent.find((s) => s.to === `+${customer}`), { timeoutMs: 20_000 });
    // The reply went out while the campaign still had recipients to go.
    expect(sentTo(list).length).toBeLessThan(1000);
    // Cancelling skips the rest; every recipient ends in exactly one final state.
    await api().campaigns.cancel({ id: c.id });
    const done = await waitFor(async () => {
      const d = await api().campaigns.get({ id: c.id });
      return d.figures.sending === 0 ? d : null;
    });
    expect(done.status).toBe('cancelled');
    expect(done.figures.sent + done.figures.skipped).toBe(1000);
    expect(done.figures.sent).toBe(sentTo(list).length);
  });

  it('fails a send interrupted by a crash as unknown instead of resending it; the echo corrects it', async () => {
    const list = phones(2, 2_800_000);
    const seeded = await seedContacts(db(), list);
    const c = await api().campaigns.create({
      name: 'Interrupted',
      template: 'Hi {{name}}, this is the one',
      audience: { contactIds: seeded.map((s) => s.id) },
    });
    // As a crash leaves it: running, one recipient claimed long ago with its message in flight.
    await db().execute(
      sql`update campaigns set status = 'running', lease_owner = 'dead', lease_until = now() - interval '1 minute' where id = ${c.id}`,
    );
    const [conv] = await db().execute<{ id: string }>(
      sql`insert into conversations (contact_id) values (${seeded[0]!.id}) returning id`,
    );
    const [msg] = await db()
      .insert(messages)
      .values({
        conversationId: conv!.id,
        direction: 'outbound',
        author: 'campaign',
        body: 'Hi Customer, this is the one',
        status: 'pending',
        campaignId: c.id,
      })
      .returning({ id: messages.id });
    await db()
      .update(campaignRecipients)
      .set({
        status: 'sending',
        messageId: msg!.id,
        attempts: 1,
        claimedAt: new Date(Date.now() - 10 * 60_000),
      })
      .where(and(eq(campaignRecipients.campaignId, c.id), eq(campaignRecipients.contactId, seeded[0]!.id)));

    await h.runtime.campaigns.sweep();
    const done = await finished(c.id);
    expect(done.figures).toMatchObject({ total: 2, sent: 1, failed: 1 });
    expect(sentTo(list).map((s) => s.to)).toEqual([list[1]]);
    const [unknown] = (await api().campaigns.recipients({ id: c.id, status: 'failed' })).items;
    expect(unknown).toMatchObject({ phone: list[0], errorCode: 'unknown' });

    // Not resent by default: its message may have arrived.
    expect((await api().campaigns.retryFailed({ id: c.id })).requeued).toBe(0);

    // The gateway's echo of the message shows it did go out.
    await h.post(
      textWebhook({ phone: list[0]!.slice(1), text: 'Hi Customer, this is the one', fromMe: true }),
    );
    const after = await api().campaigns.get({ id: c.id });
    expect(after.figures).toMatchObject({ total: 2, sent: 2, failed: 0 });
  });
});
