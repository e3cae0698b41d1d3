import { createServer, type IncomingMessage } from 'node:http';
import { AwsClient } from 'aws4fetch';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { messagesUpsert, newMessageId, upsertEntry } from '../../scripts/lib/wasender-payloads';
import { GatewayRejectedError } from '../../server/integrations/gateway';
import { createMediaLinks, createS3MediaStore } from '../../server/integrations/media-store';
import { fitsKind, sniff } from '../../server/integrations/sniff';
import { createWasenderGateway } from '../../server/integrations/wasender';
import { parseWebhook } from '../../server/pipeline/payload';
import { listenOnLoopback } from '../fakes/http';
import { type FakeWasender, startFakeWasender } from '../fakes/wasender-server';

describe('SigV4 (the S3 store signs with aws4fetch)', () => {
  it("matches AWS's published example signature (get-vanilla)", async () => {
    const aws = new AwsClient({
      accessKeyId: 'AKIDEXAMPLE',
      secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY',
      region: 'us-east-1',
      service: 'service',
    });
    const req = await aws.sign('https://example.amazonaws.com/', {
      method: 'GET',
      aws: { datetime: '20150830T123600Z' },
    });
    expect(req.headers.get('authorization')).toBe(
      'AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, ' +
        'SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31',
    );
  });

  it('stores and reads a file in a path-style bucket, with signed requests', async () => {
    const objects = new Map<string, Buffer>();
    const seen: Array<{ method: string; url: string; auth: string }> = [];
    const server = createServer(async (req: IncomingMessage, res) => {
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      const auth = String(req.headers.authorization ?? '');
      seen.push({ method: req.method ?? '', url: req.url ?? '', auth });
      if (
        !auth.startsWith('AWS4-HMAC-SHA256 Credential=KEYID/') ||
        !auth.includes('/eu-west-1/s3/aws4_request')
      ) {
        res.writeHead(403).end();
        return;
      }
      if (req.method === 'PUT') {
        objects.set(req.url ?? '', Buffer.concat(chunks));
        res.writeHead(200).end();
        return;
      }
      const obj = objects.get(req.url ?? '');
      if (!obj) res.writeHead(404).end();
      else res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(obj);
    });
    const port = await listenOnLoopback(server);
    try {
      const store = createS3MediaStore({
        endpoint: `http://127.0.0.1:${port}/storage/v1/s3`,
        bucket: 'media',
        region: 'eu-west-1',
        accessKeyId: 'KEYID',
        secretAccessKey: 'secret-key-for-tests',
      });
      await store.put('2026/12/abc.png', new Uint8Array([1, 2, 3]), 'image/png');
      expect(seen[0]).toMatchObject({ method: 'PUT', url: '/storage/v1/s3/media/2026/12/abc.png' });
      expect(await store.get('2026/12/abc.png')).toEqual(new Uint8Array([1, 2, 3]));
      expect(await store.get('2026/12/none.png')).toBeNull();
      await expect(store.put('../escape', new Uint8Array([1]), 'image/png')).rejects.toThrow(/invalid/);
    } finally {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    }
  });
});

describe('WaSender media', () => {
  let fake: FakeWasender;
  beforeAll(async () => {
    fake = await startFakeWasender();
  });
  afterAll(() => fake?.close());

  it('parses a voice note, a wrapped photo, a location and a contact card', () => {
    const id = newMessageId();
    const parsed = parseWebhook(
      messagesUpsert([
        upsertEntry({
          phone: '14155550001',
          id,
          message: {
            audioMessage: {
              mimetype: 'audio/ogg; codecs=opus',
              ptt: true,
              fileLength: '4200',
              mediaKey: 'k',
            },
          },
        }),
        upsertEntry({
          phone: '14155550001',
          message: {
            ephemeralMessage: {
              message: { imageMessage: { mimetype: 'image/jpeg', caption: 'this one', fileLength: 99 } },
            },
          },
        }),
        upsertEntry({
          phone: '14155550001',
          message: { locationMessage: { degreesLatitude: 1.5, degreesLongitude: -2.25 } },
        }),
        upsertEntry({
          phone: '14155550001',
          message: {
            contactMessage: {
              displayName: 'Ann',
              vcard: 'BEGIN:VCARD\nFN:Ann\nitem1.TEL;waid=31612345678:+31 6 12345678\nEND:VCARD',
            },
          },
        }),
      ]),
    );
    if (!parsed.ok) throw new Error('expected a parsed webhook');
    const [voice, photo, location, contact] = parsed.items as unknown as Array<Record<string, unknown>>;
    expect(voice!.media).toEqual({
      kind: 'audio',
      mimeType: 'audio/ogg',
      fileName: null,
      caption: null,
      declaredBytes: 4200,
      voice: true,
      handle: {
        key: { id },
        message: {
          audioMessage: { mimetype: 'audio/ogg; codecs=opus', ptt: true, fileLength: '4200', mediaKey: 'k' },
        },
      },
    });
    expect(photo).toMatchObject({
      type: 'image',
      text: 'this one',
      media: { kind: 'image', caption: 'this one', voice: false },
    });
    expect(location).toMatchObject({
      type: 'location',
      card: { kind: 'location', latitude: 1.5, longitude: -2.25 },
    });
    expect(contact).toMatchObject({
      type: 'contact',
      card: { kind: 'contacts', contacts: [{ name: 'Ann', phones: ['+31 6 12345678'] }] },
    });
  });

  it('stops a download without Content-Length once more than the limit arrived', async () => {
    const gw = createWasenderGateway({ baseUrl: fake.url, apiToken: fake.token, timeoutMs: 5000 });
    const id = newMessageId();
    fake.addMedia(id, new Uint8Array(3 * 1024 * 1024), 'video/mp4', { chunked: true });
    const handle = { key: { id }, message: { videoMessage: { mimetype: 'video/mp4' } } };
    const err = await gw.downloadMedia!(handle, { maxBytes: 1024 * 1024 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GatewayRejectedError);
    expect((err as GatewayRejectedError).reason).toMatch(/larger than the 1048576-byte limit/);
    const ok = await gw.downloadMedia!(handle, { maxBytes: 4 * 1024 * 1024 });
    expect(ok.bytes.byteLength).toBe(3 * 1024 * 1024);
    expect(ok.mimeType).toBe('video/mp4');
  });

  it('sends a document by URL with its file name and caption', async () => {
    const gw = createWasenderGateway({ baseUrl: fake.url, apiToken: fake.token, timeoutMs: 5000 });
    const res = await gw.sendMedia!({
      to: '+14155550002',
      kind: 'document',
      mimeType: 'application/pdf',
      fileName: 'quote.pdf',
      caption: 'Your quote',
      publicUrl: `${fake.url}/nothing-here`,
      read: async () => new Uint8Array(),
    });
    expect(res.providerId).toMatch(/^\d+$/);
    const last = fake.requests.at(-1)!.body;
    expect(last).toEqual({
      to: '+14155550002',
      documentUrl: `${fake.url}/nothing-here`,
      fileName: 'quote.pdf',
      text: 'Your quote',
    });
  });
});

describe('content sniffing and signed links', () => {
  it('names files by content, whatever they claim', () => {
    expect(sniff(Buffer.from('%PDF-1.7 ...'), 'image/jpeg')).toEqual({
      mimeType: 'application/pdf',
      family: 'document',
    });
    expect(sniff(Buffer.from([0xff, 0xd8, 0xff, 0xe0]))?.mimeType).toBe('image/jpeg');
    expect(sniff(Buffer.from('OggS\0\x02'))?.mimeType).toBe('audio/ogg');
    expect(sniff(Buffer.from('<html><script>'), 'image/png')).toBeNull();
    expect(sniff(Buffer.from('plain words\n'), 'text/plain')?.mimeType).toBe('text/plain');
    expect(sniff(Buffer.from('bad\0bytes'), 'text/plain')).toBeNull();
    expect(fitsKind('image', sniff(Buffer.from('%PDF-1.7'))!)).toBe(false);
    expect(fitsKind('document', sniff(Buffer.from('%PDF-1.7'))!)).toBe(true);
  });

  it('refuses expired, tampered and foreign-key links', () => {
    const links = createMediaLinks({
      key: 'k'.repeat(32),
      ttlSeconds: 60,
      publicBaseUrl: 'https://bot.example',
    });
    const now = Date.UTC(2026, 0, 1);
    const url = new URL(links.publicUrl('m1', { now })!);
    const exp = url.searchParams.get('exp')!;
    const sig = url.searchParams.get('sig')!;
    expect(links.check('m1', exp, sig, now)).toBe('ok');
    expect(links.check('m1', exp, sig, now + 61_000)).toBe('expired');
    expect(links.check('m2', exp, sig, now)).toBe('invalid');
    expect(links.check('m1', String(Number(exp) + 1), sig, now)).toBe('invalid');
    const other = createMediaLinks({ key: 'x'.repeat(32), ttlSeconds: 60, publicBaseUrl: undefined });
    expect(other.check('m1', exp, sig, now)).toBe('invalid');
    expect(other.publicUrl('m1')).toBeNull();
  });
});
