import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  GatewayNotConfiguredError,
  GatewayRateLimitedError,
  GatewayRejectedError,
  GatewayTransientError,
} from '../../server/integrations/gateway';
import { classifySendFailure } from '../../server/integrations/send-policy';
import {
  createWhatsappCloudGateway,
  type WhatsappCloudGateway,
} from '../../server/integrations/whatsapp-cloud';
import { type FakeCloud, startFakeWhatsappCloud } from '../fakes/whatsapp-cloud-server';

let fake: FakeCloud;
let gw: WhatsappCloudGateway;
beforeAll(async () => {
  fake = await startFakeWhatsappCloud();
  gw = createWhatsappCloudGateway({
    baseUrl: fake.url,
    apiVersion: fake.apiVersion,
    phoneNumberId: fake.phoneNumberId,
    wabaId: fake.wabaId,
    accessToken: fake.token,
    timeoutMs: 1000,
  });
});
afterAll(() => fake?.close());

const caught = (p: Promise<unknown>) =>
  p.then(
    () => null,
    (e: unknown) => e,
  );

describe('WhatsApp Cloud API client', () => {
  it('sends a text and returns the message id', async () => {
    const res = await gw.sendText({ to: '+14155556001', text: 'Hello' });
    expect(res.providerId).toMatch(/^wamid\./);
    expect(fake.sent.at(-1)).toMatchObject({
      to: '+14155556001',
      type: 'text',
      text: 'Hello',
      id: res.providerId,
    });
  });

  it('sends an approved template with its body parameters', async () => {
    fake.templates.push({
      name: 'order_update',
      language: 'en_US',
      category: 'UTILITY',
      status: 'APPROVED',
      body: 'Hi {{1}}, order {{2}}',
    });
    await gw.sendTemplate({
      to: '+14155556002',
      name: 'order_update',
      language: 'en_US',
      bodyParameters: ['Ana', 'A-7'],
    });
    expect(fake.sent.at(-1)).toMatchObject({
      type: 'template',
      template: { name: 'order_update', language: 'en_US', parameters: ['Ana', 'A-7'] },
    });
    // Meta's template error (132001) is a rejection naming the template problem.
    const err = await caught(
      gw.sendTemplate({ to: '+14155556002', name: 'nope', language: 'en_US', bodyParameters: [] }),
    );
    expect(err).toBeInstanceOf(GatewayRejectedError);
    expect((err as GatewayRejectedError).reason).toMatch(/^template refused: .*132001/);
  });

  it('uploads media bytes, then sends the media by id', async () => {
    const bytes = new Uint8Array([1, 2, 3, 4, 5]);
    await gw.sendMedia({
      to: '+14155556003',
      kind: 'document',
      mimeType: 'application/pdf',
      fileName: 'quote.pdf',
      caption: 'your quote',
      publicUrl: 'https://example.invalid/unused',
      read: async () => bytes,
    });
    const send = fake.sent.at(-1)!;
    expect(send).toMatchObject({ type: 'document', text: 'your quote' });
    const upload = fake.uploads.get(send.mediaId!)!;
    expect([...upload.bytes]).toEqual([1, 2, 3, 4, 5]);
    expect(upload).toMatchObject({ mimeType: 'application/pdf', fileName: 'quote.pdf' });
  });

  it('downloads media by id with the token, and refuses files over the limit', async () => {
    const id = fake.addMedia(Buffer.from('photo-bytes'), 'image/jpeg');
    const media = await gw.downloadMedia({ id }, { maxBytes: 1000 });
    expect(Buffer.from(media.bytes).toString()).toBe('photo-bytes');
    expect(media.mimeType).toBe('image/jpeg');
    const tooBig = await caught(gw.downloadMedia({ id }, { maxBytes: 4 }));
    expect(tooBig).toBeInstanceOf(GatewayRejectedError);
    expect(await caught(gw.downloadMedia({ id: '../x' }, { maxBytes: 10 }))).toBeInstanceOf(
      GatewayRejectedError,
    );
  });

  it("reports the number's quality rating and messaging tier", async () => {
    expect(await gw.status()).toEqual({
      state: 'connected',
      detail: {
        displayPhoneNumber: '15550783881',
        verifiedName: 'Test Shop',
        qualityRating: 'GREEN',
        messagingLimitTier: 'TIER_1K',
        throughput: 'STANDARD',
        numberStatus: 'CONNECTED',
      },
    });
  });

  it('lists every template across pages with its body variable count', async () => {
    fake.templates.push(
      { name: 'a', language: 'en', category: 'MARKETING', status: 'APPROVED', body: 'Hello' },
      { name: 'b', language: 'pt_BR', category: 'MARKETING', status: 'PENDING', body: '{{1}} and {{3}}' },
    );
    const list = await gw.listTemplates();
    expect(list).toHaveLength(fake.templates.length);
    expect(list.find((t) => t.name === 'b')).toEqual({
      name: 'b',
      language: 'pt_BR',
      category: 'MARKETING',
      status: 'PENDING',
      bodyVariables: 3,
    });
  });

  it('maps Meta errors: rate limits wait, 131047 is rejected with the window reason, 5xx is transient', async () => {
    fake.script({ code: 130429, status: 400 });
    const rate = await caught(gw.sendText({ to: '+14155556004', text: 'x' }));
    expect(rate).toBeInstanceOf(GatewayRateLimitedError);
    expect((rate as GatewayRateLimitedError).retryAfterMs).toBe(60_000);

    fake.script({ code: 131056, status: 400 });
    const pair = await caught(gw.sendText({ to: '+14155556004', text: 'x' }));
    expect((pair as GatewayRateLimitedError).retryAfterMs).toBe(6_000);

    fake.script({ code: 131047, status: 400, message: 'Re-engagement message' });
    const window = await caught(gw.sendText({ to: '+14155556004', text: 'x' }));
    expect(window).toBeInstanceOf(GatewayRejectedError);
    const failure = classifySendFailure(window, { attempt: 1, maxAttempts: 3, retryAfterMaxSeconds: 60 });
    expect(failure).toMatchObject({ kind: 'rejected' });
    expect((failure as { error: string }).error).toMatch(/24-hour customer service window/);

    fake.script({ code: 131026, status: 400, message: 'Message undeliverable' });
    expect(
      ((await caught(gw.sendText({ to: '+14155556004', text: 'x' }))) as GatewayRejectedError).reason,
    ).toMatch(/undeliverable/);

    fake.script({ code: 1, status: 500, message: 'An unknown error occurred' });
    const down = await caught(gw.sendText({ to: '+14155556004', text: 'x' }));
    expect(down).toBeInstanceOf(GatewayTransientError);
    expect((down as GatewayTransientError).status).toBe(500);

    fake.script({ hang: true });
    const hung = await caught(gw.sendText({ to: '+14155556004', text: 'x' }));
    expect(hung).toBeInstanceOf(GatewayTransientError);
    expect((hung as GatewayTransientError).status).toBeNull();
  });

  it('never puts the access token in an error', async () => {
    fake.script({ code: 100, status: 400, message: `Invalid parameter near ${fake.token}` });
    const err = (await caught(gw.sendText({ to: '+14155556005', text: 'x' }))) as GatewayRejectedError;
    expect(err.reason).toContain('[redacted]');
    expect(err.message).not.toContain(fake.token);
    const wrong = createWhatsappCloudGateway({
      baseUrl: fake.url,
      apiVersion: fake.apiVersion,
      phoneNumberId: fake.phoneNumberId,
      wabaId: fake.wabaId,
      accessToken: 'EAAGwrongtoken123',
      timeoutMs: 1000,
    });
    const refused = (await caught(wrong.sendText({ to: '+14155556005', text: 'x' }))) as GatewayRejectedError;
    expect(refused).toBeInstanceOf(GatewayRejectedError);
    expect(refused.message).not.toContain('EAAGwrongtoken123');
  });

  it('is not configured without a token or phone number id, and refuses bad recipients before any request', async () => {
    const none = createWhatsappCloudGateway({
      baseUrl: fake.url,
      apiVersion: fake.apiVersion,
      phoneNumberId: undefined,
      wabaId: undefined,
      accessToken: fake.token,
      timeoutMs: 1000,
    });
    expect(none.configured).toBe(false);
    expect(await caught(none.sendText({ to: '+14155556006', text: 'x' }))).toBeInstanceOf(
      GatewayNotConfiguredError,
    );
    const before = fake.requests.length;
    expect(await caught(gw.sendText({ to: '14155556006', text: 'x' }))).toBeInstanceOf(GatewayRejectedError);
    expect(fake.requests.length).toBe(before);
  });
});
