import OpenAI from 'openai';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  type GatewayError,
  GatewayNotConfiguredError,
  GatewayRateLimitedError,
  GatewayRejectedError,
  GatewayTransientError,
} from '../../server/integrations/gateway';
import { createWasenderGateway, wasenderSendUrl } from '../../server/integrations/wasender';
import { type FakeOpenAI, startFakeOpenAI } from './openai-server';
import { type FakeWasender, startFakeWasender } from './wasender-server';

describe('fake OpenAI server with the real openai SDK', () => {
  let fake: FakeOpenAI;
  let client: OpenAI;

  beforeEach(async () => {
    fake = await startFakeOpenAI();
    client = new OpenAI({ apiKey: fake.apiKey, baseURL: fake.url, maxRetries: 0, timeout: 5000 });
  });
  afterEach(async () => {
    await fake.close();
  });

  it('returns a completion echoing the last user message, with usage', async () => {
    const completion = await client.chat.completions.create({
      model: 'gpt-test',
      messages: [
        { role: 'system', content: 'You are helpful.' },
        { role: 'user', content: 'first question' },
        { role: 'assistant', content: 'first answer' },
        { role: 'user', content: 'what are your opening hours?' },
      ],
    });
    expect(completion.object).toBe('chat.completion');
    expect(completion.model).toBe('gpt-test');
    expect(completion.choices[0]?.message.content).toBe('Echo: what are your opening hours?');
    expect(completion.choices[0]?.finish_reason).toBe('stop');
    const usage = completion.usage;
    if (!usage) throw new Error('expected usage');
    expect(usage.prompt_tokens).toBeGreaterThan(0);
    expect(usage.completion_tokens).toBeGreaterThan(0);
    expect(usage.total_tokens).toBe(usage.prompt_tokens + usage.completion_tokens);
    expect(fake.requests).toHaveLength(1);
    expect(fake.requests[0]?.body.model).toBe('gpt-test');
    expect(fake.requests[0]?.body.messages).toHaveLength(4);
  });

  it('reads text parts of array content', async () => {
    const completion = await client.chat.completions.create({
      model: 'gpt-test',
      messages: [
        {
          role: 'user',
          content: [
            { type: 'text', text: 'hello' },
            { type: 'text', text: 'there' },
          ],
        },
      ],
    });
    expect(completion.choices[0]?.message.content).toBe('Echo: hello there');
  });

  it('returns a tool call from a responder', async () => {
    fake.setResponder((body) => ({
      toolCall: { name: 'create_task', arguments: { title: `call back: ${body.messages.length}` } },
    }));
    const completion = await client.chat.completions.create({
      model: 'gpt-test',
      messages: [{ role: 'user', content: 'please call me' }],
      tools: [
        {
          type: 'function',
          function: {
            name: 'create_task',
            parameters: { type: 'object', properties: { title: { type: 'string' } } },
          },
        },
      ],
    });
    const choice = completion.choices[0];
    expect(choice?.finish_reason).toBe('tool_calls');
    expect(choice?.message.content).toBeNull();
    const call = choice?.message.tool_calls?.[0];
    if (call?.type !== 'function') throw new Error('expected a function tool call');
    expect(call.function.name).toBe('create_task');
    expect(JSON.parse(call.function.arguments)).toEqual({ title: 'call back: 1' });
    expect(fake.requests[0]?.body.tools).toBeDefined();
  });

  it('uses a scripted reply once, then the responder again', async () => {
    fake.script({ reply: 'scripted answer' });
    const ask = () =>
      client.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'hi' }] });
    expect((await ask()).choices[0]?.message.content).toBe('scripted answer');
    expect((await ask()).choices[0]?.message.content).toBe('Echo: hi');
  });

  it('surfaces a scripted 429 as RateLimitError with retry-after, and a 500 as InternalServerError', async () => {
    fake.script({ status: 429, retryAfter: 2 }, { status: 500 });
    const ask = () =>
      client.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'hi' }] });

    const rateLimited = await ask().catch((error: unknown) => error);
    expect(rateLimited).toBeInstanceOf(OpenAI.RateLimitError);
    if (!(rateLimited instanceof OpenAI.RateLimitError)) throw new Error('unreachable');
    expect(rateLimited.status).toBe(429);
    expect(rateLimited.headers.get('retry-after')).toBe('2');
    expect(rateLimited.code).toBe('rate_limit_exceeded');

    const serverError = await ask().catch((error: unknown) => error);
    expect(serverError).toBeInstanceOf(OpenAI.InternalServerError);
    expect((serverError as InstanceType<typeof OpenAI.InternalServerError>).status).toBe(500);

    expect((await ask()).choices[0]?.message.content).toBe('Echo: hi');
    expect(fake.requests).toHaveLength(3);
  });

  it('lets the SDK retry a 429 by itself', async () => {
    fake.script({ status: 429, retryAfter: 0 });
    const retrying = new OpenAI({ apiKey: fake.apiKey, baseURL: fake.url, maxRetries: 1, timeout: 5000 });
    const completion = await retrying.chat.completions.create({
      model: 'm',
      messages: [{ role: 'user', content: 'again' }],
    });
    expect(completion.choices[0]?.message.content).toBe('Echo: again');
    expect(fake.requests).toHaveLength(2);
  });

  it('times out on a hang and fails on a socket reset', async () => {
    const quick = new OpenAI({ apiKey: fake.apiKey, baseURL: fake.url, maxRetries: 0, timeout: 200 });
    fake.script({ hang: true }, { reset: true });
    const ask = () =>
      quick.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'x' }] });

    const timedOut = await ask().catch((error: unknown) => error);
    expect(timedOut).toBeInstanceOf(OpenAI.APIConnectionTimeoutError);

    const reset = await ask().catch((error: unknown) => error);
    expect(reset).toBeInstanceOf(OpenAI.APIConnectionError);
    expect(reset).not.toBeInstanceOf(OpenAI.APIConnectionTimeoutError);
  });

  it('applies setDelay to every answer', async () => {
    const quick = new OpenAI({ apiKey: fake.apiKey, baseURL: fake.url, maxRetries: 0, timeout: 200 });
    const ask = () =>
      quick.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'x' }] });
    fake.setDelay(1000);
    await expect(ask()).rejects.toBeInstanceOf(OpenAI.APIConnectionTimeoutError);
    fake.setDelay(0);
    expect((await ask()).choices[0]?.message.content).toBe('Echo: x');
  });

  it('rejects a wrong key with AuthenticationError and records nothing', async () => {
    const wrong = new OpenAI({ apiKey: 'sk-wrong', baseURL: fake.url, maxRetries: 0 });
    await expect(
      wrong.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'x' }] }),
    ).rejects.toBeInstanceOf(OpenAI.AuthenticationError);
    expect(fake.requests).toHaveLength(0);
  });

  it('answers a malformed request with 400', async () => {
    const response = await fetch(`${fake.url}/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${fake.apiKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'm', messages: [] }),
    });
    expect(response.status).toBe(400);
    const body = (await response.json()) as { error: { message: string } };
    expect(body.error.message).toMatch(/messages/);
  });
});

describe('fake WaSender server with the WaSender gateway client', () => {
  let fake: FakeWasender;

  beforeEach(async () => {
    fake = await startFakeWasender();
  });
  afterEach(async () => {
    await fake.close();
  });

  const gateway = (overrides: { apiToken?: string | null; timeoutMs?: number; baseUrl?: string } = {}) =>
    createWasenderGateway({
      baseUrl: overrides.baseUrl ?? fake.url,
      apiToken: overrides.apiToken === undefined ? fake.token : overrides.apiToken,
      timeoutMs: overrides.timeoutMs ?? 2000,
    });

  /** Awaits a rejection, checks its class, and checks that no credential leaks through it. */
  async function failure<T extends GatewayError>(
    promise: Promise<unknown>,
    type: abstract new (...args: never[]) => T,
  ): Promise<T> {
    const error = await promise.then(
      () => {
        throw new Error('expected the send to fail');
      },
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(type);
    const e = error as T;
    expect(e.message).not.toContain(fake.token);
    expect(String(e)).not.toContain(fake.token);
    expect(e.stack ?? '').not.toContain(fake.token);
    expect(JSON.stringify(e)).not.toContain(fake.token);
    expect(e.gateway).toBe('wasender');
    return e;
  }

  it('sends a text and returns the msgId as providerId', async () => {
    const g = gateway();
    expect(g.name).toBe('wasender');
    expect(g.configured).toBe(true);
    const result = await g.sendText({ to: '+447700900123', text: 'Hello 👋' });
    expect(fake.sent).toHaveLength(1);
    const sent = fake.sent[0]!;
    expect(sent).toMatchObject({ to: '+447700900123', text: 'Hello 👋' });
    expect(result.providerId).toBe(String(sent.msgId));
    const second = await g.sendText({ to: '+447700900124', text: 'Hi' });
    expect(second.providerId).not.toBe(result.providerId);
    expect(fake.requests.every((r) => r.authorized)).toBe(true);
  });

  it('accepts a base URL that already ends in /api', async () => {
    expect(wasenderSendUrl('https://www.wasenderapi.com')).toBe(
      'https://www.wasenderapi.com/api/send-message',
    );
    expect(wasenderSendUrl('https://www.wasenderapi.com/api/')).toBe(
      'https://www.wasenderapi.com/api/send-message',
    );
    const result = await gateway({ baseUrl: `${fake.url}/api/` }).sendText({ to: '+15551234567', text: 'x' });
    expect(result.providerId).toBe(String(fake.sent[0]?.msgId));
  });

  it('maps 429 to GatewayRateLimitedError using retry_after from the body', async () => {
    fake.script({ status: 429, retryAfter: 2, message: 'You can only send 1 message every 1 minute.' });
    const error = await failure(
      gateway().sendText({ to: '+15551234567', text: 'x' }),
      GatewayRateLimitedError,
    );
    expect(error.retryAfterMs).toBe(2000);
    expect(error.message).toContain('You can only send 1 message every 1 minute.');
    expect(fake.sent).toHaveLength(0);
  });

  it('falls back to the Retry-After header, then to 60 s', async () => {
    fake.script(
      { status: 429, retryAfter: null, retryAfterHeader: '7' },
      { status: 429, retryAfter: null },
      { status: 429, retryAfter: 3, retryAfterHeader: '9' },
    );
    const g = gateway();
    const send = () => g.sendText({ to: '+15551234567', text: 'x' });
    expect((await failure(send(), GatewayRateLimitedError)).retryAfterMs).toBe(7000);
    expect((await failure(send(), GatewayRateLimitedError)).retryAfterMs).toBe(60_000);
    expect((await failure(send(), GatewayRateLimitedError)).retryAfterMs).toBe(3000);
  });

  it('maps 5xx and 408 to GatewayTransientError', async () => {
    fake.script({ status: 500 }, { status: 503, message: 'maintenance' }, { status: 408 });
    const g = gateway();
    const send = () => g.sendText({ to: '+15551234567', text: 'x' });
    expect((await failure(send(), GatewayTransientError)).status).toBe(500);
    const unavailable = await failure(send(), GatewayTransientError);
    expect(unavailable.status).toBe(503);
    expect(unavailable.message).toContain('maintenance');
    expect((await failure(send(), GatewayTransientError)).status).toBe(408);
  });

  it('maps other 4xx to GatewayRejectedError with the provider reason', async () => {
    fake.script(
      { status: 400, message: 'The session is not connected' },
      {
        status: 422,
        body: { success: false, message: 'Validation failed', errors: { to: ['The to field is invalid.'] } },
      },
    );
    const g = gateway();
    const send = () => g.sendText({ to: '+15551234567', text: 'x' });
    const bad = await failure(send(), GatewayRejectedError);
    expect(bad.status).toBe(400);
    expect(bad.reason).toBe('The session is not connected');
    const invalid = await failure(send(), GatewayRejectedError);
    expect(invalid.status).toBe(422);
    expect(invalid.reason).toBe('Validation failed; to: The to field is invalid.');
  });

  it('treats success:false in a 2xx body as a rejection', async () => {
    fake.script({ status: 200, body: { success: false, message: 'Number is not on WhatsApp' } });
    const error = await failure(gateway().sendText({ to: '+15551234567', text: 'x' }), GatewayRejectedError);
    expect(error.status).toBe(200);
    expect(error.reason).toBe('Number is not on WhatsApp');
  });

  it('returns a string msgId as is, and null when the body has none', async () => {
    fake.script(
      { body: { success: true, data: { msgId: 'abc-1' } } },
      { body: { success: true, data: {} } },
      { body: 'not an object' },
    );
    const g = gateway();
    const send = () => g.sendText({ to: '+15551234567', text: 'x' });
    expect(await send()).toEqual({ providerId: 'abc-1' });
    expect(await send()).toEqual({ providerId: null });
    expect(await send()).toEqual({ providerId: null });
  });

  it('turns a hang into GatewayTransientError through the timeout', async () => {
    fake.script({ hang: true });
    const error = await failure(
      gateway({ timeoutMs: 200 }).sendText({ to: '+15551234567', text: 'x' }),
      GatewayTransientError,
    );
    expect(error.message).toMatch(/timed out after 200 ms/);
    expect(error.status).toBeNull();
  });

  it('turns a socket reset into GatewayTransientError', async () => {
    fake.script({ reset: true });
    const error = await failure(gateway().sendText({ to: '+15551234567', text: 'x' }), GatewayTransientError);
    expect(error.message).toMatch(/network error/);
    // The next request goes through on a fresh connection.
    await expect(gateway().sendText({ to: '+15551234567', text: 'y' })).resolves.toMatchObject({
      providerId: expect.any(String),
    });
  });

  it('succeeds after a scripted delay shorter than the timeout', async () => {
    fake.script({ delayMs: 100 });
    const result = await gateway({ timeoutMs: 2000 }).sendText({ to: '+15551234567', text: 'slow' });
    expect(result.providerId).toBe(String(fake.sent[0]?.msgId));
  });

  it('is not configured without a token and never calls the server', async () => {
    for (const apiToken of [null, '', '   ']) {
      const g = gateway({ apiToken });
      expect(g.configured).toBe(false);
      await failure(g.sendText({ to: '+15551234567', text: 'x' }), GatewayNotConfiguredError);
    }
    expect(fake.requests).toHaveLength(0);
  });

  it('maps a wrong token to a 401 rejection without leaking either token', async () => {
    const wrongToken = 'wrong-token-value-123';
    const g = gateway({ apiToken: wrongToken });
    const error = await failure(g.sendText({ to: '+15551234567', text: 'x' }), GatewayRejectedError);
    expect(error.status).toBe(401);
    expect(error.reason).toBe('API key is required');
    expect(error.message).not.toContain(wrongToken);
    expect(fake.requests[0]?.authorized).toBe(false);
    expect(fake.sent).toHaveLength(0);
  });

  it('redacts the token when the provider echoes it back', async () => {
    fake.script({ status: 400, message: `API key ${fake.token} is not valid for this session` });
    const error = await failure(gateway().sendText({ to: '+15551234567', text: 'x' }), GatewayRejectedError);
    expect(error.reason).toBe('API key [redacted] is not valid for this session');
  });

  it('refuses an invalid recipient or empty text before sending', async () => {
    const g = gateway();
    const badTo = await failure(g.sendText({ to: '447700900123', text: 'x' }), GatewayRejectedError);
    expect(badTo.status).toBeNull();
    expect(badTo.reason).toMatch(/E\.164/);
    const empty = await failure(g.sendText({ to: '+447700900123', text: '  ' }), GatewayRejectedError);
    expect(empty.reason).toBe('text is empty');
    expect(fake.requests).toHaveLength(0);
  });

  it("propagates the caller's abort as the caller's reason, not as a gateway error", async () => {
    fake.script({ hang: true });
    const controller = new AbortController();
    const reason = new Error('shutting down');
    const pending = gateway({ timeoutMs: 5000 }).sendText(
      { to: '+15551234567', text: 'x' },
      { signal: controller.signal },
    );
    setTimeout(() => controller.abort(reason), 50);
    await expect(pending).rejects.toBe(reason);
    const already = new AbortController();
    already.abort(reason);
    await expect(
      gateway().sendText({ to: '+15551234567', text: 'x' }, { signal: already.signal }),
    ).rejects.toBe(reason);
  });

  it('enforces a sliding-window rate limit with retry_after and records rejections', async () => {
    fake.setRatePerSecond(2);
    const g = gateway();
    const send = (text: string) => g.sendText({ to: '+15551234567', text });
    await send('one');
    await send('two');
    const limited = await failure(send('three'), GatewayRateLimitedError);
    expect(limited.retryAfterMs).toBe(1000);
    expect(fake.sent.map((s) => s.text)).toEqual(['one', 'two']);
    expect(fake.rejected).toHaveLength(1);
    expect(fake.rejected[0]).toMatchObject({ text: 'three', retryAfter: 1 });
    fake.setRatePerSecond(null);
    await send('four');
    expect(fake.sent).toHaveLength(3);
    expect(() => fake.setRatePerSecond(0)).toThrow(RangeError);
  });

  it('waitForSends resolves once enough sends arrive and rejects after its timeout', async () => {
    const g = gateway();
    const waiting = fake.waitForSends(2, 2000);
    await g.sendText({ to: '+15551234567', text: 'a' });
    setTimeout(() => void g.sendText({ to: '+15551234567', text: 'b' }), 20);
    const sends = await waiting;
    expect(sends.map((s) => s.text)).toEqual(['a', 'b']);
    await expect(fake.waitForSends(2, 10)).resolves.toHaveLength(2);
    await expect(fake.waitForSends(3, 50)).rejects.toThrow(/expected 3 sends within 50 ms, got 2/);
  });

  it('checks the bearer token and validates the body itself', async () => {
    const post = (headers: Record<string, string>, body: unknown) =>
      fetch(`${fake.url}/api/send-message`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: JSON.stringify(body),
      });
    const noAuth = await post({}, { to: '+1', text: 'x' });
    expect(noAuth.status).toBe(401);
    expect(await noAuth.json()).toEqual({ success: false, message: 'API key is required' });
    const invalid = await post({ authorization: `Bearer ${fake.token}` }, { to: '+15551234567' });
    expect(invalid.status).toBe(422);
    expect(await invalid.json()).toMatchObject({ errors: { text: [expect.any(String)] } });
    const unknown = await fetch(`${fake.url}/api/nothing`);
    expect(unknown.status).toBe(404);
    expect(fake.sent).toHaveLength(0);
  });
});
