import fc from 'fast-check';
import superjson from 'superjson';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { procedureCount, trpcErrorBody, trpcPaths } from '../../server/http/trpc-error';
import { createTestRuntime, type TestRuntime } from '../helpers/runtime';

/** The /trpc rate limit answers in tRPC's own error shape, for single calls, batches and streams. */

interface ErrorShape {
  message: string;
  code: number;
  data: { code: string; httpStatus: number; path?: string };
}

/** The error of a tRPC answer body, decoded as a tRPC client does (superjson envelope). */
const decode = (body: unknown) => superjson.deserialize(body as never) as ErrorShape;

let t: TestRuntime;
let key: string;
beforeAll(async () => {
  t = await createTestRuntime({ RATE_LIMIT_PER_MINUTE: '1', TRPC_MAX_BATCH_SIZE: '20' });
  key = await t.key('agent');
  // The key's whole budget goes on its first call.
  const first = await (await t.app()).inject({
    url: '/trpc/campaigns.list',
    headers: { authorization: `Bearer ${key}` },
  });
  expect(first.statusCode).toBe(200);
});
afterAll(() => t?.close());

const get = async (url: string, headers: Record<string, string> = {}) =>
  (await t.app()).inject({ url, headers: { authorization: `Bearer ${key}`, ...headers } });

describe('a refused /trpc request', () => {
  it('single call: 429, Retry-After, one TOO_MANY_REQUESTS error naming the procedure', async () => {
    const res = await get('/trpc/campaigns.list');
    expect(res.statusCode).toBe(429);
    expect(Number(res.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(res.headers['content-type']).toMatch(/application\/json/);
    const body = res.json();
    expect(Array.isArray(body)).toBe(false);
    const err = decode(body.error);
    expect(err.code).toBe(-32029);
    expect(err.data).toMatchObject({ code: 'TOO_MANY_REQUESTS', httpStatus: 429, path: 'campaigns.list' });
    expect(err.message).toMatch(/^Too many requests; retry in \d+ s$/);
  });

  it('batch: one error per procedure, each with its own path', async () => {
    const paths = ['campaigns.list', 'stats.systemStatus', 'leads.list'];
    const res = await get(`/trpc/${paths.join(',')}?batch=1&input={}`);
    expect(res.statusCode).toBe(429);
    expect(res.headers['retry-after']).toBeDefined();
    const body = res.json();
    expect(body).toHaveLength(3);
    expect(body.map((item: { error: unknown }) => decode(item.error).data.path)).toEqual(paths);
    for (const item of body) expect(decode(item.error).data.code).toBe('TOO_MANY_REQUESTS');
  });

  it('streamed batch (trpc-accept: application/jsonl): one error for the request, as the stream link reads it', async () => {
    const res = await get('/trpc/campaigns.list,leads.list?batch=1&input={}', {
      'trpc-accept': 'application/jsonl',
    });
    expect(res.statusCode).toBe(429);
    const body = res.json();
    expect(Array.isArray(body)).toBe(false);
    expect(decode(body.error).data).toMatchObject({ code: 'TOO_MANY_REQUESTS', httpStatus: 429 });
  });

  it('an exhausted IP without a valid key gets the same shape', async () => {
    const anon = () =>
      t.app().then((app) => app.inject({ url: '/trpc/campaigns.list', remoteAddress: '203.0.113.9' }));
    expect((await anon()).statusCode).toBe(401);
    const res = await anon();
    expect(res.statusCode).toBe(429);
    expect(decode(res.json().error).data.code).toBe('TOO_MANY_REQUESTS');
  });

  it('plain routes keep their plain JSON error', async () => {
    const res = await (await t.app()).inject({ url: '/nowhere', remoteAddress: '203.0.113.10' });
    expect(res.statusCode).toBe(404);
    const again = await (await t.app()).inject({ url: '/nowhere', remoteAddress: '203.0.113.10' });
    expect(again.statusCode).toBe(429);
    expect(again.json()).toEqual({ error: expect.stringMatching(/^Too many requests/) });
  });
});

describe('the error body for any URL', () => {
  const pathChar = fc.constantFrom(...'abcXYZ09._-%,/?&=é\u0000'.split(''));
  const path = fc.string({ unit: pathChar, minLength: 0, maxLength: 30 });

  it('a batch gets one decodable error per path; anything else gets one', () => {
    fc.assert(
      fc.property(
        fc.array(path, { minLength: 1, maxLength: 25 }),
        fc.boolean(),
        fc.boolean(),
        (paths, batch, stream) => {
          const url = `/trpc/${paths.join(',')}${batch ? '?batch=1&input={}' : ''}`;
          const body = trpcErrorBody(
            url,
            stream ? 'application/jsonl' : undefined,
            'TOO_MANY_REQUESTS',
            'slow down',
          );
          // The body survives JSON, as it travels.
          const wire = JSON.parse(JSON.stringify(body));
          const items = Array.isArray(wire) ? wire : [wire];
          if (batch && !stream) expect(items).toHaveLength(trpcPaths(url).length);
          else expect(items).toHaveLength(1);
          for (const item of items) {
            const err = decode(item.error);
            expect(err.data.code).toBe('TOO_MANY_REQUESTS');
            expect(err.data.httpStatus).toBe(429);
            expect(err.message).toBe('slow down');
          }
          const count = procedureCount(url, 20);
          expect(count).toBeGreaterThanOrEqual(1);
          expect(count).toBeLessThanOrEqual(20);
        },
      ),
    );
  });
});
