import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { contacts, groupSends } from '../../drizzle';
import { messagesUpsert, unixSeconds } from '../../scripts/lib/wasender-payloads';
import { waitFor } from '../campaigns/support';
import type { FakeWasenderGroup } from '../fakes/wasender-server';
import { newId, type PipelineHarness, sendsTo, startPipeline, textWebhook } from '../helpers/pipeline';

const SALES = '120363000000000001@g.us';
const SUPPORT = '120363000000000002@g.us';
const EVENTS = '120363000000000003@g.us';
const member = (n: number) => `1415555${String(1000 + n)}@s.whatsapp.net`;

const GROUPS: FakeWasenderGroup[] = [
  {
    id: SALES,
    name: 'Sales team',
    participants: [{ id: member(1), admin: 'superadmin' }, { id: member(2) }, { id: '98765432109876@lid' }],
  },
  { id: SUPPORT, name: 'Support', participants: [{ id: member(3), admin: 'admin' }, { id: member(4) }] },
  { id: EVENTS, name: 'Events', participants: [{ id: member(5) }] },
];

let h: PipelineHarness;
beforeAll(async () => {
  h = await startPipeline();
  h.wasender.setGroups(GROUPS);
});
afterAll(() => h?.closeAll());

async function syncGroups() {
  const run = await h.caller('admin').groups.sync();
  return waitFor(async () => {
    const s = await h.caller('agent').groups.syncStatus();
    return s && s.id === run.id && (s.status === 'completed' || s.status === 'failed') ? s : null;
  });
}

const sendRows = (jid: string) =>
  h.runtime.database.db.select().from(groupSends).where(eq(groupSends.groupJid, jid));

describe('groups.sync, list, get', () => {
  it('imports the gateway groups with their participants; a second run changes nothing new', async () => {
    await expect(h.caller('agent').groups.sync()).rejects.toMatchObject({ code: 'FORBIDDEN' });
    const first = await syncGroups();
    expect(first).toMatchObject({ kind: 'groups', status: 'completed', total: 3, processed: 3, created: 3 });

    const list = await h.caller('agent').groups.list({});
    expect(list.map((g) => [g.jid, g.name, g.participantCount])).toEqual([
      [EVENTS, 'Events', 1],
      [SALES, 'Sales team', 3],
      [SUPPORT, 'Support', 2],
    ]);
    const sales = await h.caller('agent').groups.get({ jid: SALES });
    expect(sales.participants).toEqual([
      { jid: member(1), phone: '+14155551001', admin: true },
      { jid: member(2), phone: '+14155551002', admin: false },
      { jid: '98765432109876@lid', phone: null, admin: false },
    ]);
    expect(
      h.wasender.reads.some((r) => r.path === `/api/groups/${encodeURIComponent(SALES)}/participants`),
    ).toBe(true);

    const second = await syncGroups();
    expect(second).toMatchObject({ status: 'completed', created: 0, updated: 3 });
    expect(await h.caller('agent').groups.list({ q: 'sales' })).toHaveLength(1);
    await expect(h.caller('agent').groups.get({ jid: '120363999999999999@g.us' })).rejects.toMatchObject({
      code: 'NOT_FOUND',
    });
    await expect(h.caller('agent').groups.get({ jid: 'not-a-group' })).rejects.toMatchObject({
      code: 'BAD_REQUEST',
    });
  });
});

describe('groups.send', () => {
  it('reaches the gateway with the group JID and the mentioned participants', async () => {
    const sent = await h.caller('admin').groups.send({
      jid: SALES,
      text: 'Hello @14155551002, welcome!',
      mentions: [member(2)],
    });
    expect(sent).toMatchObject({ jid: SALES, status: 'queued', mentions: [member(2)] });
    const [at] = await waitFor(() => {
      const list = h.wasender.sent.filter((s) => s.to === SALES);
      return list.length ? list : null;
    });
    expect(at).toMatchObject({ to: SALES, text: 'Hello @14155551002, welcome!', mentions: [member(2)] });
    const row = await waitFor(async () => {
      const [r] = await h.caller('agent').groups.sends({ jid: SALES });
      return r?.status === 'sent' ? r : null;
    });
    expect(row.providerMessageId).toBe(String(at!.msgId));
  });

  it('refuses a mention of someone outside the group, an unknown group and agents, storing nothing', async () => {
    const before = (await sendRows(SUPPORT)).length;
    await expect(
      h.caller('admin').groups.send({ jid: SUPPORT, text: 'hi', mentions: [member(1)] }),
    ).rejects.toMatchObject({ code: 'BAD_REQUEST' });
    await expect(
      h.caller('admin').groups.send({ jid: SUPPORT, text: 'hi', mentions: ['not a jid'] }),
    ).rejects.toMatchObject({ code: 'BAD_REQUEST' });
    await expect(
      h.caller('admin').groups.send({ jid: '120363999999999999@g.us', text: 'hi' }),
    ).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(h.caller('agent').groups.send({ jid: SUPPORT, text: 'hi' })).rejects.toMatchObject({
      code: 'FORBIDDEN',
    });
    await expect(h.caller('admin').groups.send({ jid: SUPPORT, text: '   ' })).rejects.toMatchObject({
      code: 'BAD_REQUEST',
    });
    expect(await sendRows(SUPPORT)).toHaveLength(before);
  });
});

describe('groups.schedule and cancel', () => {
  it('sends a scheduled message at its time; a cancelled one never goes out', async () => {
    const admin = h.caller('admin');
    const sendAt = new Date(Date.now() + 1500);
    const kept = await admin.groups.schedule({ jid: SUPPORT, text: 'Standup in 5', sendAt });
    const dropped = await admin.groups.schedule({ jid: SUPPORT, text: 'Cancelled note', sendAt });
    expect(kept.status).toBe('scheduled');
    expect(await admin.groups.cancel({ id: dropped.id })).toMatchObject({ status: 'cancelled' });
    await expect(admin.groups.cancel({ id: dropped.id })).rejects.toMatchObject({ code: 'CONFLICT' });
    await expect(h.caller('agent').groups.cancel({ id: kept.id })).rejects.toMatchObject({
      code: 'FORBIDDEN',
    });

    const out = await waitFor(() => h.wasender.sent.find((s) => s.text === 'Standup in 5'));
    expect(out.to).toBe(SUPPORT);
    expect(out.at).toBeGreaterThanOrEqual(sendAt.getTime());
    await waitFor(async () => {
      const rows = await h.caller('agent').groups.sends({ jid: SUPPORT });
      return rows.find((r) => r.id === kept.id)?.status === 'sent';
    });
    // The cancelled message's job ran too (same time): it found the row cancelled.
    await waitFor(async () => {
      const jobs = await h.runtime.database.db.$client.unsafe(
        `select count(*)::int as n from pgboss.job where name = 'groups.send' and data->>'sendId' = $1 and state = 'completed'`,
        [dropped.id],
      );
      return jobs[0]!.n >= 1;
    });
    expect(h.wasender.sent.filter((s) => s.text === 'Cancelled note')).toHaveLength(0);
    const [row] = (await sendRows(SUPPORT)).filter((r) => r.id === dropped.id);
    expect(row!.status).toBe('cancelled');
  });

  it('refuses a time in the past', async () => {
    await expect(
      h.caller('admin').groups.schedule({ jid: SUPPORT, text: 'late', sendAt: new Date(Date.now() - 1000) }),
    ).rejects.toMatchObject({ code: 'BAD_REQUEST' });
  });
});

describe('groups.campaign', () => {
  it('sends to every group, each campaign send gapSeconds after the previous one', async () => {
    const createdAt = Date.now();
    const campaign = await h.caller('admin').groups.campaign({
      name: 'Launch',
      jids: [SALES, SUPPORT, EVENTS],
      text: 'We launched!',
      gapSeconds: 0.5,
    });
    expect(campaign.sends).toHaveLength(3);
    const sends = await waitFor(() => {
      const list = h.wasender.sent.filter((s) => s.text === 'We launched!');
      return list.length === 3 ? list : null;
    });
    expect(new Set(sends.map((s) => s.to))).toEqual(new Set([SALES, SUPPORT, EVENTS]));
    // Three turns 500 ms apart, the first taken after the campaign was created.
    expect(Math.max(...sends.map((s) => s.at))).toBeGreaterThanOrEqual(createdAt + 1000);
    const rows = await waitFor(async () => {
      const list = await h.caller('agent').groups.sends({ campaignId: campaign.campaignId });
      return list.every((r) => r.status === 'sent') ? list : null;
    });
    expect(rows.map((r) => r.campaignName)).toEqual(['Launch', 'Launch', 'Launch']);
  });
});

describe('groups.cancelCampaign', () => {
  it('cancels the sends that have not gone out, for admins only', async () => {
    const campaign = await h.caller('admin').groups.campaign({
      name: 'Later',
      jids: [SALES, SUPPORT],
      text: 'Not today',
      startAt: new Date(Date.now() + 3_600_000),
    });
    expect(campaign.sends.map((s) => s.status)).toEqual(['scheduled', 'scheduled']);
    await expect(
      h.caller('agent').groups.cancelCampaign({ campaignId: campaign.campaignId }),
    ).rejects.toMatchObject({ code: 'FORBIDDEN' });
    expect(await h.caller('admin').groups.cancelCampaign({ campaignId: campaign.campaignId })).toEqual({
      cancelled: 2,
    });
    const rows = await h.caller('agent').groups.sends({ campaignId: campaign.campaignId });
    expect(rows.map((r) => r.status)).toEqual(['cancelled', 'cancelled']);
    expect(await h.caller('admin').groups.cancelCampaign({ campaignId: campaign.campaignId })).toEqual({
      cancelled: 0,
    });
    await expect(
      h.caller('admin').groups.cancelCampaign({ campaignId: '00000000-0000-4000-8000-00000000dead' }),
    ).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });
});

describe('inbound group messages', () => {
  const groupMessage = (id: string, text: string, phone: string) =>
    messagesUpsert({
      key: { id, fromMe: false, remoteJid: EVENTS, participant: `${phone}@s.whatsapp.net` },
      pushName: 'Group member',
      messageTimestamp: unixSeconds(),
      message: { conversation: text },
    });

  it('are stored only while the setting is on, and never answered', async () => {
    const phone = '14155551005';
    const toGroupOrMember = () =>
      h.wasender.sent.filter((s) => s.to === EVENTS || s.to === `+${phone}`).length;
    const sentBefore = toGroupOrMember();
    const off = newId();
    expect((await h.post(groupMessage(off, 'before the setting', phone))).status).toBe(200);
    expect(await h.caller('agent').groups.messages({ jid: EVENTS })).toEqual([]);

    await h.caller('admin').bot.updateSettings({ storeGroupMessages: true });
    const on = newId();
    expect((await h.post(groupMessage(on, 'hello everyone', phone))).status).toBe(200);
    expect((await h.post(groupMessage(on, 'hello everyone', phone))).status).toBe(200);
    const stored = await h.caller('agent').groups.messages({ jid: EVENTS });
    expect(stored).toMatchObject([
      {
        jid: EVENTS,
        providerMessageId: on,
        senderPhone: `+${phone}`,
        senderName: 'Group member',
        body: 'hello everyone',
      },
    ]);

    // A direct message after it is answered; the group message got no reply and no conversation.
    const direct = '14155551099';
    await h.post(textWebhook({ phone: direct, text: 'hi there' }));
    await sendsTo(h, direct);
    expect(toGroupOrMember()).toBe(sentBefore);
    const rows = await h.runtime.database.db
      .select()
      .from(contacts)
      .where(eq(contacts.phone, `+${phone}`));
    expect(rows).toHaveLength(0);
    await h.caller('admin').bot.updateSettings({ storeGroupMessages: false });
  });
});
