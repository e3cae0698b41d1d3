import { readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { groupSends } from '../../drizzle';
import { waitFor } from '../campaigns/support';
import type { FakeWasenderGroup } from '../fakes/wasender-server';
import { type PipelineHarness, startPipeline } from '../helpers/pipeline';
import { freePort } from '../helpers/reliability';

/**
 * Group sends with a file, end to end: the fake WaSender downloads the file from its signed link on
 * PUBLIC_BASE_URL. Runs on PGlite and on Postgres.
 */

const TEAM = '120363000000000011@g.us';
const CLUB = '120363000000000012@g.us';
const GROUPS: FakeWasenderGroup[] = [
  { id: TEAM, name: 'Team', participants: [{ id: '14155552001@s.whatsapp.net', admin: 'admin' }] },
  { id: CLUB, name: 'Club', participants: [{ id: '14155552002@s.whatsapp.net' }] },
];

const PNG = Buffer.concat([
  Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
  Buffer.from('IHDR fake png body for a group'),
]);
const PDF = Buffer.from('%PDF-1.4 a small group document');
const MAX_BYTES = 4096;

async function syncGroups(harness: PipelineHarness) {
  const run = await harness.caller('admin').groups.sync();
  return waitFor(async () => {
    const s = await harness.caller('agent').groups.syncStatus();
    return s && s.id === run.id && s.status === 'completed' ? s : null;
  });
}

let h: PipelineHarness;
let mediaDir: string;
let baseUrl: string;
beforeAll(async () => {
  const port = await freePort();
  baseUrl = `http://127.0.0.1:${port}`;
  mediaDir = path.join(tmpdir(), `wcb-group-media-${process.pid}-${Date.now()}`);
  h = await startPipeline(
    {
      MEDIA_DIR: mediaDir,
      PUBLIC_BASE_URL: baseUrl,
      MEDIA_SEND_MAX_BYTES: String(MAX_BYTES),
      BODY_LIMIT_BYTES: '2048',
    },
    { port },
  );
  h.wasender.setGroups(GROUPS);
  await syncGroups(h);
});
afterAll(() => h?.closeAll());

const db = () => h.runtime.database.db;
const api = () => h.caller('admin');
const rowCount = async () => (await db().select({ n: sql<number>`count(*)::int` }).from(groupSends))[0]!.n;

async function storedFiles(): Promise<string[]> {
  try {
    return await readdir(path.join(mediaDir, 'out'));
  } catch {
    return [];
  }
}

describe('group send with a file', () => {
  it('reaches the gateway as an image with the text as caption, fetched from a signed link', async () => {
    const before = await storedFiles();
    const queued = await api().groups.send({
      jid: TEAM,
      text: 'Our new office',
      attachment: { kind: 'image', data: PNG.toString('base64'), fileName: 'office.png' },
    });
    expect(queued.attachment).toEqual({
      kind: 'image',
      mimeType: 'image/png',
      fileName: 'office.png',
      bytes: PNG.byteLength,
    });
    expect((await storedFiles()).length).toBe(before.length + 1);

    const out = await waitFor(() => h.wasender.sent.find((s) => s.text === 'Our new office'));
    expect(out.to).toBe(TEAM);
    expect(out.media!.field).toBe('imageUrl');
    expect(out.media!.url.startsWith(`${baseUrl}/media/${queued.id}?`)).toBe(true);
    expect(out.media!.status).toBe(200);
    expect(out.media!.contentType).toBe('image/png');
    expect(Buffer.from(out.media!.bytes)).toEqual(PNG);

    const shown = await waitFor(async () => {
      const rows = await api().groups.sends({ jid: TEAM });
      const row = rows.find((r) => r.id === queued.id);
      return row?.status === 'sent' ? row : null;
    });
    expect(shown.attachment).toMatchObject({ kind: 'image', mimeType: 'image/png', fileName: 'office.png' });

    // The link is the permission: a changed signature or expiry is refused.
    const url = new URL(out.media!.url);
    const sig = url.searchParams.get('sig')!;
    url.searchParams.set('sig', `${sig.slice(0, -1)}${sig.endsWith('A') ? 'B' : 'A'}`);
    expect((await h.wasender.fetchUrl(url.toString())).status).toBe(403);
    const later = new URL(out.media!.url);
    later.searchParams.set('exp', String(Number(later.searchParams.get('exp')) + 3600));
    expect((await h.wasender.fetchUrl(later.toString())).status).toBe(403);
    const expired = new URL(out.media!.url);
    expired.searchParams.set('exp', '1');
    expect((await h.wasender.fetchUrl(expired.toString())).status).toBe(403);
  });

  it('sends a document with no text; text without a file is still required', async () => {
    const queued = await api().groups.send({
      jid: CLUB,
      text: '  ',
      attachment: { kind: 'document', data: PDF.toString('base64'), fileName: 'rules.pdf' },
    });
    const out = await waitFor(() =>
      h.wasender.sent.find((s) => s.media?.url.includes(`/media/${queued.id}?`)),
    );
    expect(out.to).toBe(CLUB);
    expect(out.media!.field).toBe('documentUrl');
    expect(out.media!.fileName).toBe('rules.pdf');
    expect(out.media!.contentType).toBe('application/pdf');
    expect(Buffer.from(out.media!.bytes)).toEqual(PDF);
    await expect(api().groups.send({ jid: CLUB, text: '  ' })).rejects.toMatchObject({
      code: 'BAD_REQUEST',
    });
  });

  it('refuses a bad file with 400 and stores nothing', async () => {
    const before = { rows: await rowCount(), files: await storedFiles() };
    const big = Buffer.concat([PNG, Buffer.alloc(MAX_BYTES, 1)]);
    const bad = [
      { kind: 'image' as const, data: PDF.toString('base64') },
      { kind: 'image' as const, data: big.toString('base64') },
      { kind: 'image' as const, data: '@@not base64@@' },
      { kind: 'audio' as const, data: PNG.toString('base64') },
    ];
    const messagesOf = [/not a supported image/, /the limit is/, /must be base64/, /not a supported audio/];
    for (const [i, attachment] of bad.entries()) {
      const wanted = { code: 'BAD_REQUEST', message: expect.stringMatching(messagesOf[i]!) };
      await expect(api().groups.send({ jid: TEAM, text: 'x', attachment })).rejects.toMatchObject(wanted);
      await expect(
        api().groups.schedule({ jid: TEAM, text: 'x', attachment, sendAt: new Date(Date.now() + 60_000) }),
      ).rejects.toMatchObject(wanted);
      await expect(
        api().groups.campaign({ name: 'Bad', jids: [TEAM, CLUB], text: 'x', attachment }),
      ).rejects.toMatchObject(wanted);
    }
    expect(await rowCount()).toBe(before.rows);
    expect(await storedFiles()).toEqual(before.files);
  });

  it('takes a file over BODY_LIMIT_BYTES through tRPC; other procedures stay held to it', async () => {
    const bigPng = Buffer.concat([PNG, Buffer.alloc(2500, 7)]);
    const headers = { authorization: `Bearer ${await h.key('admin')}`, 'content-type': 'application/json' };
    const res = await fetch(`${baseUrl}/trpc/groups.send`, {
      method: 'POST',
      headers,
      body: JSON.stringify({
        json: {
          jid: TEAM,
          text: 'Big photo',
          attachment: { kind: 'image', data: bigPng.toString('base64') },
        },
      }),
    });
    expect(res.status).toBe(200);
    const out = await waitFor(() => h.wasender.sent.find((s) => s.text === 'Big photo'));
    expect(Buffer.from(out.media!.bytes)).toEqual(bigPng);
    const held = await fetch(`${baseUrl}/trpc/groups.send,crm.contacts.create?batch=1`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ 0: { json: { jid: TEAM, text: 'x'.repeat(3000) } }, 1: { json: {} } }),
    });
    expect(held.status).toBe(413);
  });

  it('sends a scheduled file at its time', async () => {
    const sendAt = new Date(Date.now() + 1500);
    const scheduled = await api().groups.schedule({
      jid: CLUB,
      text: 'Tonight’s poster',
      attachment: { kind: 'image', data: PNG.toString('base64') },
      sendAt,
    });
    expect(scheduled).toMatchObject({ status: 'scheduled', attachment: { kind: 'image', fileName: null } });
    const out = await waitFor(() => h.wasender.sent.find((s) => s.text === 'Tonight’s poster'));
    expect(out.at).toBeGreaterThanOrEqual(sendAt.getTime());
    expect(out.to).toBe(CLUB);
    expect(out.media!.contentType).toBe('image/png');
    expect(Buffer.from(out.media!.bytes)).toEqual(PNG);
  });

  it('a group campaign with a file stores it once and sends it to every group', async () => {
    const before = await storedFiles();
    const campaign = await api().groups.campaign({
      name: 'Flyer',
      jids: [TEAM, CLUB],
      text: 'Flyer for all',
      gapSeconds: 0,
      attachment: { kind: 'image', data: PNG.toString('base64'), fileName: 'flyer.png' },
    });
    expect((await storedFiles()).length).toBe(before.length + 1);
    const got = await waitFor(() => {
      const s = h.wasender.sent.filter((x) => x.text === 'Flyer for all');
      return s.length === 2 ? s : null;
    });
    expect(got.map((s) => s.to).sort()).toEqual([TEAM, CLUB]);
    for (const s of got) expect(Buffer.from(s.media!.bytes)).toEqual(PNG);
    expect(campaign.sends.every((s) => s.attachment?.fileName === 'flyer.png')).toBe(true);
  });
});

describe('group send with a file, without PUBLIC_BASE_URL', () => {
  it('is refused before anything is stored', async () => {
    const other = await startPipeline({ MEDIA_DIR: `${mediaDir}-nourl` });
    try {
      other.wasender.setGroups(GROUPS);
      await syncGroups(other);
      const attachment = { kind: 'image' as const, data: PNG.toString('base64') };
      const wanted = { code: 'PRECONDITION_FAILED', message: expect.stringMatching(/PUBLIC_BASE_URL/) };
      await expect(
        other.caller('admin').groups.send({ jid: TEAM, text: 'x', attachment }),
      ).rejects.toMatchObject(wanted);
      await expect(
        other
          .caller('admin')
          .groups.schedule({ jid: TEAM, text: 'x', attachment, sendAt: new Date(Date.now() + 60_000) }),
      ).rejects.toMatchObject(wanted);
      const rows = await other.runtime.database.db.select({ id: groupSends.id }).from(groupSends);
      expect(rows).toHaveLength(0);
      // Text alone still goes.
      await other.caller('admin').groups.send({ jid: TEAM, text: 'plain' });
    } finally {
      await other.closeAll();
    }
  });
});
