import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { contacts, conversations } from '../../drizzle';
import { cloudWebhook, postCloudWebhook } from '../fakes/whatsapp-cloud-server';
import { CLOUD_APP_SECRET, type GatewayHarness, startGateway } from '../helpers/gateways';

/**
 * Files through Meta's Cloud API: an inbound voice note is fetched by its media id (GET /{id}, then the
 * file with the bearer token), transcribed and answered; an agent's photo is uploaded to the Cloud API
 * and sent by the id it returns, with no public address configured.
 */
const OGG = Buffer.concat([Buffer.from('OggS'), Buffer.alloc(60, 1), Buffer.from('OpusHead voice')]);
const PNG = Buffer.concat([
  Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
  Buffer.from('IHDR fake png body for tests'),
]);

describe('media through the Cloud API', () => {
  let h: GatewayHarness;
  beforeAll(async () => {
    h = await startGateway('whatsapp-cloud');
  });
  afterAll(() => h?.closeAll());

  async function conversationOf(phone: string) {
    const [row] = await h.runtime.database.db
      .select({ id: conversations.id })
      .from(conversations)
      .innerJoin(contacts, eq(contacts.id, conversations.contactId))
      .where(eq(contacts.phone, `+${phone}`));
    return row!;
  }

  it('a voice note is downloaded by its media id, transcribed and answered', async () => {
    const phone = '14155553001';
    const mediaId = h.cloud!.addMedia(OGG, 'audio/ogg');
    h.openai.scriptTranscripts('Do you have the walnut desk in stock?');
    const res = await postCloudWebhook(
      h.baseUrl,
      cloudWebhook.message({
        phone,
        type: 'audio',
        content: { audio: { id: mediaId, mime_type: 'audio/ogg; codecs=opus', voice: true } },
      }),
      CLOUD_APP_SECRET,
    );
    expect(res.status).toBe(200);
    const [reply] = await h.sendsTo(phone);
    expect(reply!.text).toContain('walnut desk');
    expect(Buffer.from(h.openai.transcriptionRequests.at(-1)!.bytes)).toEqual(OGG);
    // The download asked Meta for the file's URL, then fetched it with the token.
    const asked = h.cloud!.requests.filter((r) => r.path.includes(mediaId));
    expect(asked.length).toBeGreaterThanOrEqual(2);
    expect(asked.every((r) => r.authorized)).toBe(true);

    const conv = await conversationOf(phone);
    const page = await h.caller('agent').conversations.messages({ conversationId: conv.id, limit: 10 });
    const voice = page.items.find((m) => m.direction === 'inbound')!;
    expect(voice.type).toBe('audio');
    expect(voice.media).toMatchObject({ kind: 'audio', voice: true, status: 'stored' });
  });

  it("an agent's photo is uploaded and sent by its media id, without a public address", async () => {
    const phone = '14155553002';
    await h.inbound(phone, 'Can you show me the chair?');
    await h.sendsTo(phone);
    const conv = await conversationOf(phone);
    const queued = await h.caller('agent').conversations.sendMedia({
      conversationId: conv.id,
      kind: 'image',
      data: PNG.toString('base64'),
      caption: 'Here it is',
      fileName: 'chair.png',
    });
    expect(queued.status).toBe('queued');
    const [, photo] = await h.sendsTo(phone, 2);
    expect(photo!.text).toBe('Here it is');
    const sent = h.cloud!.sent.find((s) => s.id === photo!.id)!;
    expect(sent.type).toBe('image');
    expect(sent.mediaId).not.toBeNull();
    const upload = h.cloud!.uploads.get(sent.mediaId!)!;
    expect(upload.mimeType).toBe('image/png');
    expect(Buffer.from(upload.bytes)).toEqual(PNG);
  });

  it('a campaign with a photo reaches a customer inside the window as an upload with the text as caption', async () => {
    const phone = '14155553003';
    await h.inbound(phone, 'Any offers this week?');
    await h.sendsTo(phone);
    const [contact] = await h.runtime.database.db
      .select({ id: contacts.id })
      .from(contacts)
      .where(eq(contacts.phone, `+${phone}`));
    const c = await h.caller('agent').campaigns.create({
      name: 'Photo offer',
      template: 'Hi {{name|there}}, new chairs!',
      attachment: { kind: 'image', data: PNG.toString('base64'), fileName: 'chair.png' },
      audience: { contactIds: [contact!.id] },
    });
    await h.caller('agent').campaigns.start({ id: c.id });
    const [, offer] = await h.sendsTo(phone, 2);
    expect(offer!.text).toMatch(/new chairs!$/);
    const sent = h.cloud!.sent.find((s) => s.id === offer!.id)!;
    expect(sent.type).toBe('image');
    expect(Buffer.from(h.cloud!.uploads.get(sent.mediaId!)!.bytes)).toEqual(PNG);
  });
});
