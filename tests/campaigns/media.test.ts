import { readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { eq, sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { campaigns, messageMedia, messages } from '../../drizzle';
import { type PipelineHarness, startPipeline } from '../helpers/pipeline';
import { freePort } from '../helpers/reliability';
import { FAST_CAMPAIGNS, phones, seedContacts, sendsPerPhone, statusCounts, waitFor } from './support';

/**
 * Campaigns with a file, end to end: the fake WaSender downloads each recipient's file from its signed
 * link on PUBLIC_BASE_URL. Runs on PGlite and on Postgres.
 */

const PNG = Buffer.concat([
  Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
  Buffer.from('IHDR fake png body for a campaign'),
]);
const MAX_BYTES = 4096;

let h: PipelineHarness;
let mediaDir: string;
beforeAll(async () => {
  const port = await freePort();
  mediaDir = path.join(tmpdir(), `wcb-campaign-media-${process.pid}-${Date.now()}`);
  h = await startPipeline(
    {
      ...FAST_CAMPAIGNS,
      MEDIA_DIR: mediaDir,
      PUBLIC_BASE_URL: `http://127.0.0.1:${port}`,
      MEDIA_SEND_MAX_BYTES: String(MAX_BYTES),
    },
    { port },
  );
});
afterAll(() => h?.closeAll());

const db = () => h.runtime.database.db;
const api = () => h.caller('agent');

async function storedFiles(): Promise<string[]> {
  try {
    return await readdir(path.join(mediaDir, 'out'));
  } catch {
    return [];
  }
}

async function finished(id: string) {
  return waitFor(
    async () => {
      const c = await api().campaigns.get({ id });
      return c.status === 'completed' ? c : null;
    },
    { timeoutMs: 30_000, describe: () => statusCounts(db(), id) },
  );
}

describe('campaign attachment', () => {
  it('reaches every recipient as an image with the rendered text as caption, from one stored file', async () => {
    const list = phones(5, 4_000_000);
    const seeded = await seedContacts(db(), list);
    const filesBefore = await storedFiles();
    const created = await api().campaigns.create({
      name: 'Photo offer',
      template: 'Hi {{name}}, our new chair!',
      attachment: { kind: 'image', data: PNG.toString('base64'), fileName: 'chair.png' },
      audience: { contactIds: seeded.map((s) => s.id) },
    });
    expect(created.attachment).toEqual({
      kind: 'image',
      mimeType: 'image/png',
      fileName: 'chair.png',
      bytes: PNG.byteLength,
    });
    expect((await storedFiles()).length).toBe(filesBefore.length + 1);
    await api().campaigns.start({ id: created.id });
    const done = await finished(created.id);
    expect(done.figures).toMatchObject({ total: 5, sent: 5, failed: 0 });

    const wanted = new Set(list);
    const got = h.wasender.sent.filter((s) => wanted.has(s.to));
    expect(got).toHaveLength(5);
    expect([...sendsPerPhone(got).values()].every((n) => n === 1)).toBe(true);
    for (const [i, phone] of list.entries()) {
      const s = got.find((g) => g.to === phone)!;
      expect(s.text).toBe(`Hi Customer ${i + 1}, our new chair!`);
      expect(s.media!.field).toBe('imageUrl');
      expect(s.media!.status).toBe(200);
      expect(s.media!.contentType).toBe('image/png');
      expect(Buffer.from(s.media!.bytes)).toEqual(PNG);
    }
    // One file for the whole campaign; each message has its own media row (its own signed link).
    expect((await storedFiles()).length).toBe(filesBefore.length + 1);
    const rows = await db()
      .select({ id: messageMedia.id, key: messageMedia.storageKey, type: messages.type })
      .from(messages)
      .innerJoin(messageMedia, eq(messageMedia.messageId, messages.id))
      .where(eq(messages.campaignId, created.id));
    expect(rows).toHaveLength(5);
    expect(new Set(rows.map((r) => r.key)).size).toBe(1);
    expect(new Set(rows.map((r) => r.id)).size).toBe(5);
    expect(rows.every((r) => r.type === 'image')).toBe(true);

    // The recipient's conversation shows the message with its file.
    const [recipient] = (await api().campaigns.recipients({ id: created.id, limit: 1 })).items;
    const [msg] = await db()
      .select({ conversationId: messages.conversationId })
      .from(messages)
      .where(eq(messages.id, recipient!.messageId!));
    const page = await api().conversations.messages({ conversationId: msg!.conversationId, limit: 10 });
    const shown = page.items.find((m) => m.id === recipient!.messageId)!;
    expect(shown.type).toBe('image');
    expect(shown.media).toMatchObject({ kind: 'image', status: 'stored', mimeType: 'image/png' });
  });

  it('a campaign without attachment still goes as text', async () => {
    const list = phones(2, 4_100_000);
    const seeded = await seedContacts(db(), list);
    const created = await api().campaigns.create({
      name: 'Plain',
      template: 'Hello {{name}}',
      audience: { contactIds: seeded.map((s) => s.id) },
    });
    expect(created.attachment).toBeNull();
    await api().campaigns.start({ id: created.id });
    await finished(created.id);
    const got = h.wasender.sent.filter((s) => list.includes(s.to));
    expect(got).toHaveLength(2);
    expect(got.every((s) => !s.media && s.text.startsWith('Hello Customer'))).toBe(true);
    const media = await db()
      .select({ id: messageMedia.id })
      .from(messages)
      .innerJoin(messageMedia, eq(messageMedia.messageId, messages.id))
      .where(eq(messages.campaignId, created.id));
    expect(media).toHaveLength(0);
  });

  it('refuses a bad attachment with 400 and stores nothing', async () => {
    const seeded = await seedContacts(db(), phones(1, 4_200_000));
    const count = async () => (await db().select({ n: sql<number>`count(*)::int` }).from(campaigns))[0]!.n;
    const before = { campaigns: await count(), files: await storedFiles() };
    const big = Buffer.concat([PNG, Buffer.alloc(MAX_BYTES, 1)]);
    const bad = [
      { kind: 'image' as const, data: Buffer.from('%PDF-1.4 a document').toString('base64') },
      { kind: 'image' as const, data: big.toString('base64') },
      { kind: 'image' as const, data: '@@not base64@@' },
      { kind: 'audio' as const, data: PNG.toString('base64') },
    ];
    const messagesOf = [/not a supported image/, /the limit is/, /must be base64/, /not a supported audio/];
    for (const [i, attachment] of bad.entries()) {
      await expect(
        api().campaigns.create({
          name: 'Bad file',
          template: 'Hi',
          attachment,
          audience: { contactIds: seeded.map((s) => s.id) },
        }),
      ).rejects.toMatchObject({ code: 'BAD_REQUEST', message: expect.stringMatching(messagesOf[i]!) });
    }
    expect(await count()).toBe(before.campaigns);
    expect(await storedFiles()).toEqual(before.files);
  });
});
