import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { contacts } from '../../drizzle';
import { waitFor } from '../campaigns/support';
import { startFakeWasender } from '../fakes/wasender-server';
import { type PipelineHarness, startPipeline } from '../helpers/pipeline';
import { createTestRuntime } from '../helpers/runtime';

let h: PipelineHarness;
beforeAll(async () => {
  h = await startPipeline();
});
afterAll(() => h?.closeAll());

const jid = (phone: string) => `${phone.slice(1)}@s.whatsapp.net`;

describe('crm.contacts.syncFromGateway', () => {
  it('fills only empty names and pictures, creates new contacts as gateway, reports progress, and is idempotent', async () => {
    const db = h.runtime.database.db;
    const [alice, bob, carol, dave] = ['+14155552001', '+14155552002', '+14155552003', '+14155552004'];
    const eve = '+14155552005';
    await db.insert(contacts).values([
      { phone: alice, name: 'Alice (entered)' },
      { phone: bob, name: null },
      { phone: carol, name: '  ' },
      { phone: dave, name: null, deletedAt: new Date() },
    ]);
    // 250 more new numbers: two batches of writes.
    const extra = Array.from({ length: 250 }, (_, i) => `+1415560${String(i).padStart(4, '0')}`);
    h.wasender.setContacts([
      { id: jid(alice), name: 'Alice from phone', imgUrl: 'https://pps.example/alice.jpg' },
      { id: jid(bob), notify: 'Bob' },
      { jid: jid(carol), verifiedName: 'Carol Ltd' },
      { id: jid(dave), name: 'Dave' },
      { id: jid(eve), name: 'Eve', imgUrl: 'https://pps.example/eve.jpg' },
      { id: jid(eve), name: 'Eve again' },
      { id: '123456789012345@lid', name: 'Only a LID' },
      { id: '120363000000000009@g.us', name: 'A group' },
      { id: 'garbage', name: 'No number' },
      { id: jid(alice), name: 'x\u0000y' },
      ...extra.map((p) => ({ id: jid(p), name: null })),
    ]);

    await expect(h.caller('agent').crm.contacts.syncFromGateway()).rejects.toMatchObject({
      code: 'FORBIDDEN',
    });
    expect(await h.caller('agent').crm.contacts.syncStatus()).toBeNull();
    const started = await h.caller('admin').crm.contacts.syncFromGateway();
    expect(started).toMatchObject({ kind: 'contacts', status: 'queued', startedBy: 'test admin' });
    const done = await waitFor(async () => {
      const s = await h.caller('agent').crm.contacts.syncStatus();
      return s?.status === 'completed' || s?.status === 'failed' ? s : null;
    });
    expect(done).toMatchObject({
      id: started.id,
      status: 'completed',
      total: 255,
      processed: 255,
      created: 251,
      // Alice's picture, Bob's and Carol's names; Dave is deleted and stays untouched.
      updated: 3,
      error: null,
    });
    expect(done.finishedAt).toBeInstanceOf(Date);

    const byPhone = async (phone: string) =>
      (await db.select().from(contacts).where(eq(contacts.phone, phone)))[0]!;
    expect(await byPhone(alice)).toMatchObject({
      name: 'Alice (entered)',
      pictureUrl: 'https://pps.example/alice.jpg',
      source: 'whatsapp',
    });
    expect((await byPhone(bob)).name).toBe('Bob');
    expect((await byPhone(carol)).name).toBe('Carol Ltd');
    expect(await byPhone(dave)).toMatchObject({ name: null, pictureUrl: null });
    expect(await byPhone(eve)).toMatchObject({
      name: 'Eve',
      pictureUrl: 'https://pps.example/eve.jpg',
      source: 'gateway',
    });
    const detail = await h.caller('agent').crm.contacts.get({ id: (await byPhone(eve)).id });
    expect(detail).toMatchObject({ pictureUrl: 'https://pps.example/eve.jpg' });

    // A person edits Bob's name; a second run changes nothing.
    await db.update(contacts).set({ name: 'Robert' }).where(eq(contacts.phone, bob));
    await h.caller('admin').crm.contacts.syncFromGateway();
    const again = await waitFor(async () => {
      const s = await h.caller('agent').crm.contacts.syncStatus();
      return s && s.id !== started.id && s.status === 'completed' ? s : null;
    });
    expect(again).toMatchObject({ total: 255, processed: 255, created: 0, updated: 0 });
    expect((await byPhone(bob)).name).toBe('Robert');
  });
});

describe('stats.systemStatus gateway.live', () => {
  it("shows the gateway's session status, cached, with one request at a time", async () => {
    const fake = await startFakeWasender();
    const t = await createTestRuntime({ WASENDER_API_TOKEN: fake.token, WASENDER_BASE_URL: fake.url });
    try {
      fake.setSessionStatus('need_scan');
      const [a, b, c] = await Promise.all([
        t.caller('agent').stats.systemStatus(),
        t.caller('agent').stats.systemStatus(),
        t.caller('admin').stats.systemStatus(),
      ]);
      expect(a.gateway.live).toMatchObject({
        state: 'disconnected',
        detail: { sessionStatus: 'need_scan' },
        reason: null,
      });
      expect(b.gateway.live).toEqual(a.gateway.live);
      expect(c.gateway.live).toEqual(a.gateway.live);
      fake.setSessionStatus('connected');
      const later = await t.caller('agent').stats.systemStatus();
      expect(later.gateway.live?.state).toBe('disconnected');
      expect(fake.reads.filter((r) => r.path === '/api/status')).toHaveLength(1);
      expect(fake.reads.every((r) => r.authorized)).toBe(true);
    } finally {
      await t.close();
      await fake.close();
    }
  });

  it('reads connected from the fake', async () => {
    const status = await h.caller('agent').stats.systemStatus();
    expect(status.gateway.live).toMatchObject({ state: 'connected', detail: { sessionStatus: 'connected' } });
  });

  it("shows 'unknown' with a reason when the gateway is down, never an error", async () => {
    const fake = await startFakeWasender();
    await fake.close();
    const t = await createTestRuntime({ WASENDER_API_TOKEN: fake.token, WASENDER_BASE_URL: fake.url });
    try {
      const status = await t.caller('agent').stats.systemStatus();
      expect(status.gateway.live).toMatchObject({ state: 'unknown', detail: {} });
      expect(status.gateway.live?.reason).toMatch(/network error/);
      expect(status.gateway.live?.reason).not.toContain(fake.token);
    } finally {
      await t.close();
    }
  });

  it('is null when no gateway is configured', async () => {
    const t = await createTestRuntime();
    try {
      expect((await t.caller('agent').stats.systemStatus()).gateway.live).toBeNull();
    } finally {
      await t.close();
    }
  });
});
