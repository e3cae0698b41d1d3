import { eq, sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { campaignRecipients, campaigns, contacts } from '../../drizzle';
import { createTestRuntime, type TestRuntime } from '../helpers/runtime';
import { codeOf, MISSING_ID } from '../helpers/seed';
import { phones, seedContacts } from './support';

/**
 * Every campaigns procedure through createCaller: what it does, what it refuses, and who may call it.
 * No workers run here, so campaigns stay where the procedures put them.
 */

let t: TestRuntime;
let offline: TestRuntime;
beforeAll(async () => {
  t = await createTestRuntime({ WASENDER_API_TOKEN: 'test-token', WASENDER_BASE_URL: 'http://127.0.0.1:9' });
  offline = await createTestRuntime();
});
afterAll(async () => {
  await t?.close();
  await offline?.close();
});

const db = () => t.runtime.database.db;
const agent = () => t.caller('agent');
const admin = () => t.caller('admin');
const anonymous = () => t.caller(null);

let seq = 0;
/** A draft for `n` fresh contacts. */
async function draft(
  n = 3,
  extra: Partial<Parameters<ReturnType<typeof agent>['campaigns']['create']>[0]> = {},
) {
  seq += 1;
  const seeded = await seedContacts(db(), phones(n, 3_000_000 + seq * 1000));
  const c = await agent().campaigns.create({
    name: `Draft ${seq}`,
    template: 'Hi {{name}}',
    audience: { contactIds: seeded.map((s) => s.id) },
    ...extra,
  });
  return { ...c, contacts: seeded };
}

const setStatus = (id: string, status: 'running' | 'completed') =>
  db().update(campaigns).set({ status }).where(eq(campaigns.id, id));

describe('create', () => {
  it('resolves contact ids, tags, lead statuses and a CSV of numbers into one audience, each contact once', async () => {
    const [a, b] = await seedContacts(db(), phones(2, 4_000_000), { tags: ['vip'] });
    const [q] = await seedContacts(db(), phones(1, 4_000_100), { leadStatus: 'qualified' });
    const csv = [
      'Phone;Name;Coupon',
      `${a!.phone};Anna;A-1`,
      '(415) 400-0500;New Person;B-2',
      'banana;Nobody;C-3',
      '+1 415 400 0500;Again;D-4',
    ].join('\n');
    const c = await agent().campaigns.create({
      name: 'Mixed',
      template: 'Hi {{first_name}}, your code is {{coupon|none}}',
      audience: { contactIds: [b!.id, b!.id], tags: ['vip'], leadStatuses: ['qualified'], numbers: csv },
      ratePerMinute: 30,
      jitterPercent: 10,
      autoPause: { window: 10, failurePercent: 40 },
    });
    expect(c).toMatchObject({
      status: 'draft',
      ratePerMinute: 30,
      jitterPercent: 10,
      autoPause: { window: 10, failurePercent: 40 },
      recipients: 4,
      createdBy: 'test-agent',
      audience: { contactIds: 1, tags: ['vip'], leadStatuses: ['qualified'], numbers: { lines: 4 } },
    });
    expect(c.figures).toMatchObject({ total: 4, pending: 4 });
    // banana is invalid; the second +14154000500 line, b's second id and a/b matched again by tag are duplicates.
    expect(c.invalid).toBe(1);
    expect(c.duplicate).toBe(4);
    const [created] = await db().select().from(contacts).where(eq(contacts.phone, '+14154000500'));
    expect(created).toMatchObject({ source: 'campaign', name: 'New Person' });
    const rows = await db()
      .select({ contactId: campaignRecipients.contactId, position: campaignRecipients.position })
      .from(campaignRecipients)
      .where(eq(campaignRecipients.campaignId, c.id))
      .orderBy(campaignRecipients.position);
    expect(rows.map((r) => r.contactId)).toEqual([a!.id, created!.id, b!.id, q!.id]);
  });

  it('refuses unknown template variables, an empty audience and a CSV without a phone column', async () => {
    const [x] = await seedContacts(db(), phones(1, 4_100_000));
    const base = { name: 'Bad', audience: { contactIds: [x!.id] } };
    const unknown = agent().campaigns.create({ ...base, template: 'Hi {{nickname}}' });
    await expect(unknown).rejects.toMatchObject({
      code: 'BAD_REQUEST',
      message: expect.stringContaining('{{nickname}}'),
    });
    // A default (inline or campaign-wide) makes any variable usable.
    await expect(
      agent().campaigns.create({ ...base, template: 'Hi {{nickname|friend}}' }),
    ).resolves.toBeTruthy();
    await expect(
      agent().campaigns.create({
        ...base,
        template: 'Hi {{nickname}}',
        variableDefaults: { nickname: 'pal' },
      }),
    ).resolves.toBeTruthy();
    expect(await codeOf(agent().campaigns.create({ name: 'Empty', template: 'Hi', audience: {} }))).toBe(
      'BAD_REQUEST',
    );
    expect(
      await codeOf(
        agent().campaigns.create({
          name: 'No phone',
          template: 'Hi',
          audience: { numbers: 'name,email\nAnn,a@b.co' },
        }),
      ),
    ).toBe('BAD_REQUEST');
  });

  it('refuses an attachment when the gateway could not fetch it (PUBLIC_BASE_URL unset), storing nothing', async () => {
    const seeded = await seedContacts(db(), phones(1, 3_900_000));
    const before = await db().select({ n: sql<number>`count(*)::int` }).from(campaigns);
    const png = Buffer.concat([
      Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
      Buffer.alloc(16),
    ]);
    await expect(
      agent().campaigns.create({
        name: 'With a photo',
        template: 'Hi',
        attachment: { kind: 'image', data: png.toString('base64') },
        audience: { contactIds: seeded.map((s) => s.id) },
      }),
    ).rejects.toMatchObject({
      code: 'PRECONDITION_FAILED',
      message: expect.stringMatching(/PUBLIC_BASE_URL/),
    });
    const after = await db().select({ n: sql<number>`count(*)::int` }).from(campaigns);
    expect(after[0]!.n).toBe(before[0]!.n);
  });

  it('needs an API key', async () => {
    expect(
      await codeOf(anonymous().campaigns.create({ name: 'x', template: 'y', audience: { tags: ['a'] } })),
    ).toBe('UNAUTHORIZED');
  });
});

describe('preview', () => {
  it('counts valid, invalid (with line and reason), duplicate and opted-out recipients and renders samples', async () => {
    const list = phones(4, 4_200_000);
    const seeded = await seedContacts(db(), list, { company: 'Acme' });
    await db().update(contacts).set({ optedOutAt: new Date() }).where(eq(contacts.id, seeded[1]!.id));
    await db().update(contacts).set({ company: null, name: null }).where(eq(contacts.id, seeded[2]!.id));
    const csv = [
      'mobile,discount',
      `${list[0]},10%`,
      'xyz,5%',
      `${list[1]},1%`,
      `${list[2]},`,
      `${list[0]},99%`,
    ].join('\n');
    const c = await agent().campaigns.create({
      name: 'Preview',
      template: 'Hello {{name|there}} from {{company}}: {{discount}} off',
      variableDefaults: { company: 'our shop', discount: 'a gift' },
      audience: { numbers: csv, contactIds: [seeded[3]!.id] },
    });
    const p = await agent().campaigns.preview({ id: c.id, sample: 5 });
    expect(p.totals).toEqual({ valid: 3, invalid: 1, duplicate: 1, optedOut: 1, recipients: 4 });
    expect(p.invalid).toEqual([{ line: 3, value: 'xyz', reason: 'not a valid phone number (region US)' }]);
    expect(p.duplicates).toEqual([{ line: 6, value: list[0], reason: 'same number as line 2' }]);
    expect(p.optedOut).toEqual([{ contactId: seeded[1]!.id, phone: list[1], name: 'Customer 2' }]);
    expect(p.variables).toEqual(['name', 'company', 'discount']);
    expect(p.samples.map((s) => s.text)).toEqual([
      'Hello Customer 1 from Acme: 10% off',
      'Hello there from our shop: a gift off',
      'Hello Customer 4 from Acme: a gift off',
    ]);
    expect(p.missing).toEqual([
      { variable: 'name', recipients: 1, default: 'there' },
      { variable: 'company', recipients: 1, default: 'our shop' },
      { variable: 'discount', recipients: 2, default: 'a gift' },
    ]);
  });

  it('is NOT_FOUND for an unknown campaign and needs a key', async () => {
    expect(await codeOf(agent().campaigns.preview({ id: MISSING_ID }))).toBe('NOT_FOUND');
    expect(await codeOf(anonymous().campaigns.preview({ id: MISSING_ID }))).toBe('UNAUTHORIZED');
  });
});

describe('lifecycle', () => {
  it('schedule: a draft gets a start time; a past time is refused', async () => {
    const c = await draft();
    const at = new Date(Date.now() + 3_600_000);
    const s = await agent().campaigns.schedule({ id: c.id, at });
    expect(s).toMatchObject({ status: 'scheduled', scheduledAt: at });
    expect(await codeOf(agent().campaigns.schedule({ id: c.id, at: new Date(Date.now() - 1000) }))).toBe(
      'BAD_REQUEST',
    );
    expect(await codeOf(anonymous().campaigns.schedule({ id: c.id, at }))).toBe('UNAUTHORIZED');
  });

  it('start: draft or scheduled → running; twice is a CONFLICT; needs recipients and a gateway', async () => {
    const c = await draft();
    const s = await agent().campaigns.start({ id: c.id });
    expect(s.status).toBe('running');
    expect(s.startedAt).not.toBeNull();
    expect(s.estimatedFinishAt).not.toBeNull();
    await expect(agent().campaigns.start({ id: c.id })).rejects.toMatchObject({
      code: 'CONFLICT',
      message: expect.stringContaining('is running'),
    });
    const empty = await agent().campaigns.create({
      name: 'Nobody',
      template: 'Hi',
      audience: { tags: ['no-such-tag'] },
    });
    expect(empty.recipients).toBe(0);
    expect(await codeOf(agent().campaigns.start({ id: empty.id }))).toBe('BAD_REQUEST');
    const [x] = await seedContacts(offline.runtime.database.db, phones(1, 4_300_000));
    const o = await offline
      .caller('agent')
      .campaigns.create({ name: 'Offline', template: 'Hi', audience: { contactIds: [x!.id] } });
    await expect(offline.caller('agent').campaigns.start({ id: o.id })).rejects.toMatchObject({
      code: 'PRECONDITION_FAILED',
      message: expect.stringContaining('WASENDER_API_TOKEN'),
    });
    expect(await codeOf(anonymous().campaigns.start({ id: c.id }))).toBe('UNAUTHORIZED');
  });

  it('pause and resume: with the reason kept; only from running / paused', async () => {
    const c = await draft();
    expect(await codeOf(agent().campaigns.pause({ id: c.id }))).toBe('CONFLICT');
    await agent().campaigns.start({ id: c.id });
    const p = await agent().campaigns.pause({ id: c.id });
    expect(p).toMatchObject({ status: 'paused', pausedReason: 'Paused by test agent' });
    expect(p.pausedAt).not.toBeNull();
    expect(await codeOf(agent().campaigns.pause({ id: c.id }))).toBe('CONFLICT');
    const r = await agent().campaigns.resume({ id: c.id });
    expect(r).toMatchObject({ status: 'running', pausedReason: null });
    expect(await codeOf(agent().campaigns.resume({ id: c.id }))).toBe('CONFLICT');
    expect(await codeOf(anonymous().campaigns.pause({ id: c.id }))).toBe('UNAUTHORIZED');
    expect(await codeOf(anonymous().campaigns.resume({ id: c.id }))).toBe('UNAUTHORIZED');
  });

  it('cancel: recipients not yet sent are skipped; a cancelled campaign cannot be cancelled again', async () => {
    const c = await draft(4);
    await agent().campaigns.start({ id: c.id });
    await db()
      .update(campaignRecipients)
      .set({ status: 'sent', sentAt: new Date() })
      .where(eq(campaignRecipients.contactId, c.contacts[0]!.id));
    const x = await agent().campaigns.cancel({ id: c.id });
    expect(x.status).toBe('cancelled');
    expect(x.cancelledAt).not.toBeNull();
    expect(x.figures).toMatchObject({ total: 4, sent: 1, skipped: 3, pending: 0 });
    const skipped = await agent().campaigns.recipients({ id: c.id, status: 'skipped' });
    expect(skipped.items.every((r) => r.errorCode === 'cancelled')).toBe(true);
    expect(await codeOf(agent().campaigns.cancel({ id: c.id }))).toBe('CONFLICT');
    expect(await codeOf(anonymous().campaigns.cancel({ id: c.id }))).toBe('UNAUTHORIZED');
  });

  it('retryFailed: requeues failed recipients (not those of unknown outcome unless asked) and reopens a completed campaign', async () => {
    const c = await draft(3);
    expect(await codeOf(agent().campaigns.retryFailed({ id: c.id }))).toBe('CONFLICT');
    await setStatus(c.id, 'completed');
    const [r1, r2, r3] = c.contacts;
    const mark = (contactId: string, status: 'sent' | 'failed', errorCode: string | null) =>
      db()
        .update(campaignRecipients)
        .set({ status, errorCode, error: errorCode ? 'x' : null })
        .where(eq(campaignRecipients.contactId, contactId));
    await mark(r1!.id, 'sent', null);
    await mark(r2!.id, 'failed', 'rejected');
    await mark(r3!.id, 'failed', 'unknown');
    const once = await agent().campaigns.retryFailed({ id: c.id });
    expect(once.requeued).toBe(1);
    expect(once.campaign).toMatchObject({ status: 'running', completedAt: null });
    expect(once.campaign.figures).toMatchObject({ sent: 1, pending: 1, failed: 1 });
    const all = await agent().campaigns.retryFailed({ id: c.id, includeUnknown: true });
    expect(all.requeued).toBe(1);
    expect(all.campaign.figures).toMatchObject({ sent: 1, pending: 2, failed: 0 });
    expect(await codeOf(anonymous().campaigns.retryFailed({ id: c.id }))).toBe('UNAUTHORIZED');
  });

  it('delete: admins delete drafts only', async () => {
    const c = await draft();
    expect(await codeOf(agent().campaigns.delete({ id: c.id }))).toBe('FORBIDDEN');
    await expect(admin().campaigns.delete({ id: c.id })).resolves.toEqual({ ok: true });
    expect(await codeOf(agent().campaigns.get({ id: c.id }))).toBe('NOT_FOUND');
    const [{ n }] = (await db().execute(
      sql`select count(*)::int as n from campaign_recipients where campaign_id = ${c.id}`,
    )) as unknown as [{ n: number }];
    expect(n).toBe(0);
    const started = await draft();
    await agent().campaigns.start({ id: started.id });
    expect(await codeOf(admin().campaigns.delete({ id: started.id }))).toBe('CONFLICT');
    expect(await codeOf(admin().campaigns.delete({ id: MISSING_ID }))).toBe('NOT_FOUND');
  });
});

describe('reading', () => {
  it('get: figures, rates and replies; NOT_FOUND; bad ids are BAD_REQUEST', async () => {
    const c = await draft(4);
    const [a, b, d] = c.contacts;
    const set = (id: string, v: Partial<typeof campaignRecipients.$inferInsert>) =>
      db().update(campaignRecipients).set(v).where(eq(campaignRecipients.contactId, id));
    await set(a!.id, { status: 'read', sentAt: new Date(), repliedAt: new Date() });
    await set(b!.id, { status: 'delivered', sentAt: new Date() });
    await set(d!.id, { status: 'failed', errorCode: 'rejected' });
    const g = await agent().campaigns.get({ id: c.id });
    expect(g.figures).toEqual({
      total: 4,
      pending: 1,
      sending: 0,
      sent: 0,
      delivered: 1,
      read: 1,
      failed: 1,
      skipped: 0,
      replied: 1,
    });
    expect(g.rates).toMatchObject({ delivery: 1, read: 0.5, reply: 0.5, sentLastMinute: 2 });
    expect(g.rates.failure).toBeCloseTo(1 / 3);
    expect(await codeOf(agent().campaigns.get({ id: MISSING_ID }))).toBe('NOT_FOUND');
    expect(await codeOf(agent().campaigns.get({ id: 'nope' }))).toBe('BAD_REQUEST');
    expect(await codeOf(anonymous().campaigns.get({ id: c.id }))).toBe('UNAUTHORIZED');
  });

  it('list: newest first, filtered by status, with recipient counts', async () => {
    const c = await draft(2);
    await agent().campaigns.start({ id: c.id });
    const running = await agent().campaigns.list({ status: 'running', limit: 100 });
    expect(running.every((x) => x.status === 'running')).toBe(true);
    expect(running.find((x) => x.id === c.id)).toMatchObject({ recipients: 2 });
    const all = await agent().campaigns.list();
    expect(all.length).toBeGreaterThan(1);
    expect(all.map((x) => x.createdAt.getTime())).toEqual(
      [...all.map((x) => x.createdAt.getTime())].sort((x, y) => y - x),
    );
    expect(await codeOf(anonymous().campaigns.list())).toBe('UNAUTHORIZED');
  });

  it('recipients: pages in send order, filters by status and error code, refuses foreign cursors', async () => {
    const c = await draft(5);
    await db()
      .update(campaignRecipients)
      .set({ status: 'failed', errorCode: 'rejected', error: 'Rejected by the gateway: invalid number' })
      .where(eq(campaignRecipients.contactId, c.contacts[4]!.id));
    const first = await agent().campaigns.recipients({ id: c.id, limit: 2 });
    expect(first.items.map((r) => r.position)).toEqual([0, 1]);
    const second = await agent().campaigns.recipients({ id: c.id, limit: 2, cursor: first.nextCursor });
    const third = await agent().campaigns.recipients({ id: c.id, limit: 2, cursor: second.nextCursor });
    expect([...second.items, ...third.items].map((r) => r.position)).toEqual([2, 3, 4]);
    expect(third.nextCursor).toBeNull();
    const failed = await agent().campaigns.recipients({ id: c.id, status: 'failed' });
    expect(failed.items).toEqual([
      expect.objectContaining({
        phone: c.contacts[4]!.phone,
        name: 'Customer 5',
        errorCode: 'rejected',
        error: 'Rejected by the gateway: invalid number',
      }),
    ]);
    expect((await agent().campaigns.recipients({ id: c.id, errorCode: 'rejected' })).items).toHaveLength(1);
    expect(
      await codeOf(agent().campaigns.recipients({ id: c.id, status: 'pending', cursor: first.nextCursor })),
    ).toBe('BAD_REQUEST');
    expect(await codeOf(agent().campaigns.recipients({ id: MISSING_ID }))).toBe('NOT_FOUND');
    expect(await codeOf(anonymous().campaigns.recipients({ id: c.id }))).toBe('UNAUTHORIZED');
  });

  it('progress: yields the figures, again when they change, and ends when the campaign ends', async () => {
    const c = await draft(2);
    await agent().campaigns.start({ id: c.id });
    const stream = await agent().campaigns.progress({ id: c.id });
    const seen: string[] = [];
    for await (const e of stream) {
      // In process the tracked envelope arrives as it was yielded: [id, data].
      const p = (e as unknown as [string, typeof e.data])[1];
      seen.push(`${p.status}:${p.figures.pending}/${p.figures.skipped}`);
      if (seen.length === 1) await agent().campaigns.cancel({ id: c.id });
    }
    expect(seen).toEqual(['running:2/0', 'cancelled:0/2']);
    expect(await codeOf(anonymous().campaigns.progress({ id: c.id }))).toBe('UNAUTHORIZED');
    expect(await codeOf(agent().campaigns.progress({ id: MISSING_ID }))).toBe('NOT_FOUND');
  });
});
