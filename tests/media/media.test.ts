import { readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { messageMedia, messages } from '../../drizzle';
import { messagesUpsert, newMessageId, upsertEntry } from '../../scripts/lib/wasender-payloads';
import { lastUserText } from '../fakes/openai-server';
import {
  conversationByPhone,
  type PipelineHarness,
  sendsTo,
  startPipeline,
  textWebhook,
} from '../helpers/pipeline';
import { freePort } from '../helpers/reliability';

const PNG = Buffer.concat([
  Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
  Buffer.from('IHDR fake png body for tests'),
]);
const OGG = Buffer.concat([Buffer.from('OggS'), Buffer.alloc(60, 1), Buffer.from('OpusHead voice')]);

let h: PipelineHarness;
let mediaDir: string;
beforeAll(async () => {
  const port = await freePort();
  mediaDir = path.join(tmpdir(), `wcb-media-${process.pid}-${Date.now()}`);
  h = await startPipeline(
    {
      REPLY_QUIET_MS: '200',
      MEDIA_DIR: mediaDir,
      PUBLIC_BASE_URL: `http://127.0.0.1:${port}`,
      MEDIA_URL_TTL_SECONDS: '2',
      MEDIA_MAX_BYTES: String(16 * 1024 * 1024),
    },
    { port },
  );
});
afterAll(() => h?.closeAll());

const db = () => h.runtime.database.db;

function mediaWebhook(phone: string, id: string, message: Record<string, unknown>) {
  return messagesUpsert(upsertEntry({ phone, id, message }));
}

async function mediaOfMessage(providerId: string) {
  const [row] = await db()
    .select({ media: messageMedia, message: messages })
    .from(messages)
    .leftJoin(messageMedia, eq(messageMedia.messageId, messages.id))
    .where(eq(messages.providerMessageId, providerId));
  return row;
}

async function settled(providerId: string) {
  await expect
    .poll(async () => (await mediaOfMessage(providerId))?.media?.status, { timeout: 15_000 })
    .not.toBe('pending');
  return (await mediaOfMessage(providerId))!;
}

describe('inbound media', () => {
  it('a voice note is downloaded, transcribed and answered like text', async () => {
    const phone = '14155550901';
    const id = newMessageId();
    h.wasender.addMedia(id, OGG, 'audio/ogg');
    h.openai.scriptTranscripts('I would like two oak chairs');
    const res = await h.post(
      mediaWebhook(phone, id, {
        audioMessage: {
          url: 'https://mmg.whatsapp.net/v/t62/abc.enc',
          mimetype: 'audio/ogg; codecs=opus',
          ptt: true,
          fileLength: String(OGG.byteLength),
          mediaKey: 'a2V5',
          seconds: 3,
        },
      }),
    );
    expect(res.status).toBe(200);
    const [reply] = await sendsTo(h, phone);
    expect(reply!.text).toContain('I would like two oak chairs');
    const req = h.openai.requests.find((r) => lastUserText(r.body).includes('two oak chairs'));
    expect(req).toBeDefined();
    // The decrypt request carried the message object WaSender needs.
    const decrypt = h.wasender.decryptRequests.at(-1) as {
      data: { messages: { key: { id: string }; message: { audioMessage: { mediaKey: string } } } };
    };
    expect(decrypt.data.messages.key.id).toBe(id);
    expect(decrypt.data.messages.message.audioMessage.mediaKey).toBe('a2V5');
    expect(h.openai.transcriptionRequests.at(-1)!.model).toBe('whisper-1');
    expect(Buffer.from(h.openai.transcriptionRequests.at(-1)!.bytes)).toEqual(OGG);

    const conv = await conversationByPhone(h, phone);
    const page = await h.caller().conversations.messages({ conversationId: conv.id, limit: 10 });
    const voice = page.items.find((m) => m.direction === 'inbound')!;
    expect(voice.type).toBe('audio');
    expect(voice.media).toMatchObject({
      kind: 'audio',
      voice: true,
      status: 'stored',
      mimeType: 'audio/ogg',
      bytes: OGG.byteLength,
      transcript: 'I would like two oak chairs',
    });
  });

  it('a 30 MB file is refused with a clear reason, and the rest of the burst is answered', async () => {
    const phone = '14155550902';
    const id = newMessageId();
    const big = Buffer.alloc(30 * 1024 * 1024, 0);
    Buffer.from('%PDF-1.7\n').copy(big);
    h.wasender.addMedia(id, big, 'application/pdf');
    await h.post(
      messagesUpsert([
        upsertEntry({
          phone,
          id,
          message: {
            documentMessage: {
              url: 'https://mmg.whatsapp.net/d/f.enc',
              mimetype: 'application/pdf',
              fileName: 'plan.pdf',
              caption: 'my floor plan',
            },
          },
        }),
        upsertEntry({ phone, text: 'can you quote this?' }),
      ]),
    );
    const row = await settled(id);
    expect(row.media!.status).toBe('refused');
    expect(row.media!.reason).toMatch(/File too large.*16\.0 MB/);
    expect(row.message.error).toBe(row.media!.reason);
    expect(row.message.body).toBe('my floor plan');
    expect(row.media!.storageKey).toBeNull();
    const [reply] = await sendsTo(h, phone);
    expect(reply!.text).toContain('can you quote this?');
    const conv = await conversationByPhone(h, phone);
    const page = await h.caller().conversations.messages({ conversationId: conv.id, limit: 10 });
    expect(page.items.filter((m) => m.direction === 'inbound')).toHaveLength(2);
  });

  it('a file whose content does not match its kind is refused', async () => {
    const phone = '14155550903';
    const id = newMessageId();
    h.wasender.addMedia(id, Buffer.from('MZ\x90\x00 not really an image, an executable'), 'image/jpeg');
    await h.post(
      mediaWebhook(phone, id, {
        imageMessage: { url: 'https://mmg.whatsapp.net/i.enc', mimetype: 'image/jpeg' },
      }),
    );
    const row = await settled(id);
    expect(row.media!.status).toBe('refused');
    expect(row.media!.reason).toMatch(/not a supported image file \(it claimed to be image\/jpeg\)/);
    // No file kept for it; the bot gives the persona's answer to files it cannot read.
    const files = await readdir(mediaDir, { recursive: true }).catch(() => [] as string[]);
    expect(files.some((f) => String(f).includes(row.media!.id))).toBe(false);
    const [reply] = await sendsTo(h, phone);
    expect(reply!.text).toBe(h.runtime.persona.nonText.reply);
  });

  it('a location is stored as structured data on the message', async () => {
    const phone = '14155550904';
    await h.post(
      mediaWebhook(phone, newMessageId(), {
        locationMessage: { degreesLatitude: 52.37, degreesLongitude: 4.89, name: 'Shop', address: 'Dam 1' },
      }),
    );
    await sendsTo(h, phone);
    const conv = await conversationByPhone(h, phone);
    const page = await h.caller().conversations.messages({ conversationId: conv.id, limit: 10 });
    expect(page.items.find((m) => m.direction === 'inbound')!.card).toEqual({
      kind: 'location',
      latitude: 52.37,
      longitude: 4.89,
      name: 'Shop',
      address: 'Dam 1',
    });
  });
});

describe('outbound media and signed links', () => {
  it("an agent's photo reaches the gateway through a signed link that stops working once expired", async () => {
    const phone = '14155550911';
    await h.post(textWebhook({ phone, text: 'hello' }));
    await sendsTo(h, phone);
    const conv = await conversationByPhone(h, phone);
    const queued = await h.caller('agent').conversations.sendMedia({
      conversationId: conv.id,
      kind: 'image',
      data: `data:image/png;base64,${PNG.toString('base64')}`,
      caption: 'Our oak chair',
      fileName: 'chair.png',
    });
    expect(queued.status).toBe('queued');
    const sends = await sendsTo(h, phone, 2);
    const photo = sends[1]!;
    expect(photo.text).toBe('Our oak chair');
    expect(photo.media!.field).toBe('imageUrl');
    expect(photo.media!.status).toBe(200);
    expect(photo.media!.contentType).toBe('image/png');
    expect(Buffer.from(photo.media!.bytes)).toEqual(PNG);
    expect(photo.media!.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/media\/[0-9a-f-]{36}\?exp=\d+&sig=/);
    // The link lives MEDIA_URL_TTL_SECONDS (2 s here), then the server refuses it.
    await expect
      .poll(async () => (await h.wasender.fetchUrl(photo.media!.url)).status, {
        timeout: 10_000,
        interval: 500,
      })
      .toBe(403);
  });

  it('mediaUrl gives a working link; a tampered one gets 403', async () => {
    const phone = '14155550912';
    const id = newMessageId();
    h.wasender.addMedia(id, PNG, 'image/png');
    await h.post(
      mediaWebhook(phone, id, { imageMessage: { url: 'https://x/i.enc', mimetype: 'image/png' } }),
    );
    await settled(id);
    const [row] = await db().select().from(messages).where(eq(messages.providerMessageId, id));
    const link = await h.caller('agent').conversations.mediaUrl({ messageId: row!.id });
    expect(link.mimeType).toBe('image/png');
    const ok = await fetch(link.url);
    expect(ok.status).toBe(200);
    expect(ok.headers.get('content-type')).toBe('image/png');
    expect(ok.headers.get('x-content-type-options')).toBe('nosniff');
    expect(ok.headers.get('content-disposition')).toMatch(/^inline; filename="image\.png"/);
    expect(Buffer.from(await ok.arrayBuffer())).toEqual(PNG);

    const u = new URL(link.url);
    const sig = u.searchParams.get('sig')!;
    const flipped = new URL(u);
    flipped.searchParams.set('sig', (sig[0] === 'A' ? 'B' : 'A') + sig.slice(1));
    const later = new URL(u);
    later.searchParams.set('exp', String(Number(u.searchParams.get('exp')) + 3600));
    const other = new URL(u);
    other.pathname = '/media/00000000-0000-4000-8000-000000000000';
    const unsigned = new URL(u);
    unsigned.search = '';
    for (const bad of [flipped, later, other, unsigned]) {
      const res = await fetch(bad);
      expect(res.status, bad.toString()).toBe(403);
    }
  });

  it('refuses a file that is not what its kind says, and changes nothing', async () => {
    const phone = '14155550913';
    await h.post(textWebhook({ phone, text: 'hi' }));
    await sendsTo(h, phone);
    const conv = await conversationByPhone(h, phone);
    const before = await db().select().from(messages).where(eq(messages.conversationId, conv.id));
    await expect(
      h.caller('agent').conversations.sendMedia({
        conversationId: conv.id,
        kind: 'image',
        data: Buffer.from('%PDF-1.4 a document').toString('base64'),
      }),
    ).rejects.toMatchObject({ code: 'BAD_REQUEST', message: expect.stringMatching(/not a supported image/) });
    await expect(
      h
        .caller('agent')
        .conversations.sendMedia({ conversationId: conv.id, kind: 'image', data: '@@not base64@@' }),
    ).rejects.toMatchObject({ code: 'BAD_REQUEST' });
    const after = await db().select().from(messages).where(eq(messages.conversationId, conv.id));
    expect(after).toHaveLength(before.length);
  });
});
