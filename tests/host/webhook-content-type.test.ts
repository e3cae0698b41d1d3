import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SIGNATURE_HEADER } from '../../scripts/lib/wasender-payloads';
import { textWebhook, WEBHOOK_SECRET } from '../helpers/pipeline';
import { createTestRuntime, type TestRuntime } from '../helpers/runtime';

/** The webhook reads JSON whatever the Content-Type claims; the signature and the body limit still hold. */

let t: TestRuntime;
beforeAll(async () => {
  t = await createTestRuntime({
    WASENDER_WEBHOOK_SECRET: WEBHOOK_SECRET,
    WEBHOOK_BODY_LIMIT_BYTES: '4096',
    WEBHOOK_RATE_LIMIT_PER_MINUTE: '0',
  });
});
afterAll(() => t?.close());

let phone = 14155550700;
const nextPhone = () => String(phone++);

async function post(payload: string | Buffer, contentType: string | undefined, signature = WEBHOOK_SECRET) {
  const headers: Record<string, string> = { [SIGNATURE_HEADER]: signature };
  if (contentType !== undefined) headers['content-type'] = contentType;
  const app = await t.app();
  return app.inject({ method: 'POST', url: '/webhook', headers, payload });
}

describe('content types', () => {
  it.each([
    'application/json',
    'application/json; charset=utf-8',
    'text/plain',
    'text/plain;charset=UTF-8',
    'application/x-www-form-urlencoded',
    'application/octet-stream',
    'multipart/form-data; boundary=x',
    'nonsense',
  ])('a signed JSON webhook labelled %s is stored', async (contentType) => {
    const res = await post(JSON.stringify(textWebhook({ phone: nextPhone(), text: 'hi' })), contentType);
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ received: true, stored: 1 });
  });

  it('a signed JSON webhook with no content type at all is stored', async () => {
    const res = await post(
      Buffer.from(JSON.stringify(textWebhook({ phone: nextPhone(), text: 'hi' }))),
      undefined,
    );
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ stored: 1 });
  });

  it('any content type string: the same signed body is stored once, never a 4xx or 5xx', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.constantFrom('text/plain', 'application/x-www-form-urlencoded', ''),
          fc.stringMatching(/^[a-z]{1,12}\/[a-z0-9.+-]{1,20}(; ?[a-z]+=[a-z0-9-]{1,10})?$/),
        ),
        async (contentType) => {
          const res = await post(
            JSON.stringify(textWebhook({ phone: nextPhone(), text: 'hi' })),
            contentType,
          );
          expect(res.statusCode).toBe(200);
          expect(res.json()).toMatchObject({ stored: 1 });
        },
      ),
      { numRuns: 15 },
    );
  });

  it('the signature is still required, whatever the content type', async () => {
    const body = JSON.stringify(textWebhook({ phone: nextPhone(), text: 'hi' }));
    for (const contentType of ['text/plain', 'application/json', undefined]) {
      const res = await post(body, contentType, 'wrong-secret');
      expect(res.statusCode).toBe(401);
    }
  });

  it('a body that is not JSON is a 400, and one over the limit a 413, whatever the content type', async () => {
    for (const contentType of ['text/plain', 'application/json', 'application/x-www-form-urlencoded']) {
      const bad = await post('event=messages.upsert&data=x', contentType);
      expect(bad.statusCode).toBe(400);
      expect(bad.json()).toEqual({ error: 'Body is not valid JSON' });
      const large = await post(
        JSON.stringify(textWebhook({ phone: nextPhone(), text: 'x'.repeat(5000) })),
        contentType,
      );
      expect(large.statusCode).toBe(413);
    }
  });
});
