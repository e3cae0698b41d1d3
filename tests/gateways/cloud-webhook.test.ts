import { eq } from 'drizzle-orm';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { contacts, deadLetters, messages } from '../../drizzle';
import { parseCloudWebhook } from '../../server/pipeline/cloud-payload';
import { cloudWebhook, hubSignature, newWamid } from '../fakes/whatsapp-cloud-server';
import { CLOUD_APP_SECRET, CLOUD_VERIFY_TOKEN } from '../helpers/gateways';
import { createTestRuntime, type TestRuntime } from '../helpers/runtime';

let t: TestRuntime;
beforeAll(async () => {
  t = await createTestRuntime({
    GATEWAY: 'whatsapp-cloud',
    WHATSAPP_CLOUD_APP_SECRET: CLOUD_APP_SECRET,
    WHATSAPP_CLOUD_VERIFY_TOKEN: CLOUD_VERIFY_TOKEN,
    REPLY_QUIET_MS: '600000',
  });
});
afterAll(() => t?.close());
const db = () => t.runtime.database.db;

const post = async (
  payload: string,
  signature: string | null = hubSignature(payload, CLOUD_APP_SECRET),
  type = 'application/json',
) =>
  (await t.app()).inject({
    method: 'POST',
    url: '/webhook/whatsapp-cloud',
    headers: { 'content-type': type, ...(signature === null ? {} : { 'x-hub-signature-256': signature }) },
    payload,
  });

describe('GET /webhook/whatsapp-cloud (verification handshake)', () => {
  const verify = async (query: string) =>
    (await t.app()).inject({ method: 'GET', url: `/webhook/whatsapp-cloud?${query}` });

  it('echoes hub.challenge as text when the verify token matches', async () => {
    const res = await verify(
      `hub.mode=subscribe&hub.verify_token=${CLOUD_VERIFY_TOKEN}&hub.challenge=1158201444`,
    );
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain/);
    expect(res.body).toBe('1158201444');
  });

  it('answers 403 to a wrong token, a wrong mode or a missing challenge', async () => {
    expect((await verify('hub.mode=subscribe&hub.verify_token=nope&hub.challenge=1')).statusCode).toBe(403);
    expect(
      (await verify(`hub.mode=unsubscribe&hub.verify_token=${CLOUD_VERIFY_TOKEN}&hub.challenge=1`))
        .statusCode,
    ).toBe(403);
    expect((await verify(`hub.mode=subscribe&hub.verify_token=${CLOUD_VERIFY_TOKEN}`)).statusCode).toBe(403);
    expect((await verify('')).statusCode).toBe(403);
  });
});

describe('POST /webhook/whatsapp-cloud', () => {
  it('stores a signed message, whatever the Content-Type says, once', async () => {
    const body = JSON.stringify(cloudWebhook.message({ phone: '14155554001', text: 'hola', name: 'Lucia' }));
    const res = await post(body, undefined, 'text/plain');
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ received: true, stored: 1 });
    expect((await post(body)).json()).toMatchObject({ stored: 0, duplicates: 1 });
    const [c] = await db().select().from(contacts).where(eq(contacts.phone, '+14155554001'));
    expect(c?.pushName).toBe('Lucia');
  });

  it('refuses a missing or wrong signature with 401 and stores nothing', async () => {
    const body = JSON.stringify(cloudWebhook.message({ phone: '14155554002', text: 'x' }));
    expect((await post(body, null)).statusCode).toBe(401);
    expect((await post(body, hubSignature(body, 'another-secret'))).statusCode).toBe(401);
    expect((await post(body, hubSignature(`${body} `, CLOUD_APP_SECRET))).statusCode).toBe(401);
    expect((await post(body, 'sha256=')).statusCode).toBe(401);
    expect(await db().select().from(contacts).where(eq(contacts.phone, '+14155554002'))).toHaveLength(0);
  });

  it('answers 400 to a body that is not a Business Account webhook', async () => {
    expect((await post('{nope')).statusCode).toBe(400);
    const res = await post(JSON.stringify({ object: 'page', entry: [] }));
    expect(res.statusCode).toBe(400);
    expect(res.json().error).toMatch(/whatsapp_business_account/);
  });

  it('keeps a malformed message and a Meta error as dead letters, and stores the rest', async () => {
    const good = cloudWebhook.message({ phone: '14155554003', text: 'fine' });
    const value = good.entry[0]!.changes[0]!.value as Record<string, unknown>;
    (value.messages as unknown[]).push({
      id: newWamid(),
      from: 'not-a-number',
      type: 'text',
      text: { body: 'x' },
    });
    value.errors = [{ code: 131000, title: 'Something went wrong', message: 'Something went wrong' }];
    const res = await post(JSON.stringify(good));
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ stored: 1, deadLettered: 2 });
    const letters = await db()
      .select()
      .from(deadLetters)
      .where(eq(deadLetters.source, 'whatsapp-cloud.webhook'));
    expect(letters.map((l) => l.reason).join('\n')).toMatch(/from: expected the sender's number/);
    expect(letters.map((l) => l.reason).join('\n')).toMatch(/Meta error 131000/);
  });

  it('is not configured without an app secret (503)', async () => {
    const bare = await createTestRuntime({});
    try {
      const res = await (await bare.app()).inject({
        method: 'POST',
        url: '/webhook/whatsapp-cloud',
        headers: { 'content-type': 'application/json' },
        payload: JSON.stringify(cloudWebhook.message({ phone: '14155554004', text: 'x' })),
      });
      expect(res.statusCode).toBe(503);
    } finally {
      await bare.close();
    }
  });

  it('fuzzed bodies (NUL, lone surrogates, huge and out-of-range values) never get a 5xx', async () => {
    const hostile = fc.oneof(
      fc.string(),
      fc.constantFrom('\u0000', 'a\u0000b', '\uD800', 'x\uDC00y', 'é'.repeat(70_000), '99999999999999', '-1'),
      fc.integer(),
      fc.double(),
      fc.constant(null),
      fc.constant(1e308),
    );
    const message = fc.record(
      {
        from: fc.oneof(hostile, fc.constant('14155554999')),
        id: fc.oneof(hostile, fc.constant(newWamid())),
        timestamp: fc.oneof(hostile, fc.constant('253402300800'), fc.constant('1e20')),
        type: fc.oneof(
          fc.constantFrom('text', 'image', 'audio', 'interactive', 'location', 'contacts', 'reaction'),
          hostile,
        ),
        text: fc.record({ body: hostile }),
        image: fc.record({ id: hostile, caption: hostile, mime_type: hostile }),
        audio: fc.record({ id: hostile, voice: fc.oneof(fc.boolean(), hostile) }),
        interactive: fc.record({ button_reply: fc.record({ id: hostile, title: hostile }) }),
        location: fc.record({ latitude: hostile, longitude: hostile, name: hostile }),
        reaction: fc.record({ emoji: hostile, message_id: hostile }),
      },
      { requiredKeys: [] },
    );
    const status = fc.record(
      {
        id: hostile,
        status: fc.oneof(fc.constantFrom('sent', 'delivered', 'read', 'failed'), hostile),
        errors: fc.anything(),
      },
      { requiredKeys: [] },
    );
    const body = fc.record({
      object: fc.oneof(fc.constant('whatsapp_business_account'), hostile),
      entry: fc.oneof(
        fc.array(
          fc.record({
            changes: fc.array(
              fc.record({
                field: fc.oneof(fc.constant('messages'), hostile),
                value: fc.record(
                  {
                    contacts: fc.array(fc.record({ wa_id: hostile, profile: fc.record({ name: hostile }) })),
                    messages: fc.oneof(fc.array(message, { maxLength: 3 }), hostile),
                    statuses: fc.oneof(fc.array(status, { maxLength: 3 }), hostile),
                    errors: fc.anything(),
                  },
                  { requiredKeys: [] },
                ),
              }),
              { maxLength: 2 },
            ),
          }),
          { maxLength: 2 },
        ),
        fc.anything(),
      ),
    });
    await fc.assert(
      fc.asyncProperty(body, async (b) => {
        const res = await post(JSON.stringify(b));
        expect(res.statusCode, res.body).toBeLessThan(500);
      }),
      { numRuns: 150 },
    );
  });
});

describe('parseCloudWebhook', () => {
  const one = (content: Record<string, unknown>, type: string) => {
    const parsed = parseCloudWebhook(cloudWebhook.message({ phone: '14155554100', type, content }));
    if (!parsed.ok) throw new Error(parsed.error);
    return parsed.items[0]!;
  };

  it('maps media to a reference the Cloud client downloads, with the caption as text', () => {
    const item = one(
      { image: { id: '1234567890', mime_type: 'image/jpeg', caption: 'my receipt' } },
      'image',
    );
    expect(item).toMatchObject({
      kind: 'message',
      type: 'image',
      text: 'my receipt',
      channel: 'whatsapp-cloud',
      media: {
        kind: 'image',
        mimeType: 'image/jpeg',
        fileName: null,
        caption: 'my receipt',
        declaredBytes: null,
        voice: false,
        handle: { id: '1234567890' },
      },
    });
    expect(one({ audio: { id: '42', mime_type: 'audio/ogg', voice: true } }, 'audio')).toMatchObject({
      type: 'audio',
      text: null,
      media: { kind: 'audio', voice: true },
    });
    expect(
      one({ document: { id: '43', filename: 'q.pdf', mime_type: 'application/pdf' } }, 'document'),
    ).toMatchObject({
      media: { kind: 'document', fileName: 'q.pdf' },
    });
  });

  it('maps interactive replies, locations, contacts and reactions', () => {
    expect(
      one(
        { interactive: { type: 'button_reply', button_reply: { id: 'b1', title: 'Yes please' } } },
        'interactive',
      ),
    ).toMatchObject({
      type: 'text',
      text: 'Yes please',
    });
    expect(one({ location: { latitude: 38.7, longitude: -9.1, name: 'Shop' } }, 'location')).toMatchObject({
      type: 'location',
      text: 'Shop (38.7, -9.1)',
    });
    expect(
      one({ contacts: [{ name: { formatted_name: 'Ana' }, phones: [{ phone: '+351 912' }] }] }, 'contacts'),
    ).toMatchObject({ type: 'contact', text: 'Ana +351 912' });
    expect(one({ reaction: { message_id: 'wamid.x', emoji: '👍' } }, 'reaction')).toMatchObject({
      type: 'reaction',
      text: '👍',
    });
  });

  it("maps statuses; a failure carries Meta's code and title", () => {
    const parsed = parseCloudWebhook(
      cloudWebhook.status({
        id: 'wamid.abc',
        status: 'failed',
        errors: [{ code: 131026, title: 'Message undeliverable', error_data: { details: 'no WhatsApp' } }],
      }),
    );
    expect(parsed).toMatchObject({
      ok: true,
      items: [
        {
          kind: 'status',
          providerId: 'wamid.abc',
          msgId: 'wamid.abc',
          status: 'failed',
          error: 'Message undeliverable: no WhatsApp (Meta error 131026)',
        },
      ],
    });
    const read = parseCloudWebhook(cloudWebhook.status({ id: 'wamid.abc', status: 'read' }));
    expect(read).toMatchObject({ ok: true, items: [{ status: 'read', error: null }] });
  });

  it('a rejected entry keeps a one-entry body that parses to the same rejection', () => {
    const body = cloudWebhook.message({ phone: 'x', text: 'bad sender' });
    const parsed = parseCloudWebhook(body);
    if (!parsed.ok) throw new Error(parsed.error);
    const rejected = parsed.items[0]!;
    expect(rejected.kind).toBe('rejected');
    if (rejected.kind !== 'rejected') return;
    const again = parseCloudWebhook(rejected.raw.data);
    expect(again).toMatchObject({ ok: true, items: [{ kind: 'rejected', reason: rejected.reason }] });
  });

  it('cleans NUL and lone surrogates and refuses over-long ids', () => {
    const item = one({ text: { body: 'a\u0000b\uD800c' } }, 'text');
    expect(item).toMatchObject({ text: 'ab\uFFFDc' });
    const long = parseCloudWebhook(
      cloudWebhook.message({ phone: '14155554100', id: 'w'.repeat(300), text: 'x' }),
    );
    expect(long).toMatchObject({ ok: true, items: [{ kind: 'rejected' }] });
  });
});

describe('stored messages', () => {
  it('a Cloud media message is stored with its caption as the body', async () => {
    const body = JSON.stringify(
      cloudWebhook.message({
        phone: '14155554200',
        type: 'image',
        content: { image: { id: '555', mime_type: 'image/png', caption: 'look' } },
      }),
    );
    expect((await post(body)).json()).toMatchObject({ stored: 1 });
    const rows = await db().select().from(messages).where(eq(messages.body, 'look'));
    expect(rows[0]).toMatchObject({ type: 'image', direction: 'inbound' });
  });
});

describe('POST /webhook/whatsapp-cloud: unsigned floods', () => {
  let limited: TestRuntime;
  beforeAll(async () => {
    limited = await createTestRuntime({
      WHATSAPP_CLOUD_APP_SECRET: CLOUD_APP_SECRET,
      WEBHOOK_RATE_LIMIT_PER_MINUTE: '5',
      REPLY_QUIET_MS: '600000',
    });
  });
  afterAll(() => limited?.close());

  const send = async (signed: boolean, phone: string) => {
    const payload = JSON.stringify(cloudWebhook.message({ phone, text: 'hello' }));
    return (await limited.app()).inject({
      method: 'POST',
      url: '/webhook/whatsapp-cloud',
      remoteAddress: '192.0.2.40',
      headers: {
        'content-type': 'application/json',
        'x-hub-signature-256': signed ? hubSignature(payload, CLOUD_APP_SECRET) : 'sha256=00',
      },
      payload,
    });
  };

  it('badly signed posts never spend the budget of signed ones, which have their own limit', async () => {
    const codes = new Set<number>();
    for (let i = 0; i < 20; i++) codes.add((await send(false, '14155554300')).statusCode);
    expect([...codes].sort()).toEqual([401, 429]);
    const signed: number[] = [];
    for (let i = 0; i < 6; i++) signed.push((await send(true, `1415555431${i}`)).statusCode);
    expect(signed).toEqual([200, 200, 200, 200, 200, 429]);
  });
});
