import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  batchTransport,
  createClient,
  errorCode,
  errorStatus,
  type FetchLike,
  retryAfterMs,
  singleTransport,
  streamTransport,
} from '../../sdk/src/index';
import { createTestRuntime, type TestRuntime } from '../helpers/runtime';
import { listen } from '../helpers/sse';

/**
 * Errors carry their HTTP status on the wire: what access logs, proxies and monitoring see. Every call
 * goes through the sdk's client over real HTTP; a recording fetch keeps each answer's status.
 */

/** The transports by name, for test titles. */
const transports = { batch: batchTransport, single: singleTransport, stream: streamTransport };

const MISSING_ID = '00000000-0000-4000-8000-000000000001';

let t: TestRuntime;
let url: string;
let adminKey: string;
beforeAll(async () => {
  t = await createTestRuntime({ RATE_LIMIT_PER_MINUTE: '1000' });
  adminKey = await t.key('admin');
  url = `${await listen(await t.app())}/trpc`;
});
afterAll(() => t?.close());

/** A fetch that records the status and headers of every answer. */
function recorder() {
  const answers: { status: number; retryAfter: string | null; url: string }[] = [];
  const fetch: FetchLike = async (input, init) => {
    const res = await globalThis.fetch(input, init);
    answers.push({ status: res.status, retryAfter: res.headers.get('retry-after'), url: String(input) });
    return res;
  };
  return { answers, fetch };
}

async function failure(call: Promise<unknown>): Promise<unknown> {
  try {
    await call;
  } catch (err) {
    return err;
  }
  throw new Error('the call succeeded');
}

describe.each(['batch', 'single'] as const)(
  'transport %s: each error has its own status on the wire',
  (name) => {
    const transport = transports[name];
    it('unauthorized → 401', async () => {
      const r = recorder();
      const api = createClient({ url, fetch: r.fetch, transport });
      const err = await failure(api.campaigns.list.query());
      expect(errorCode(err)).toBe('UNAUTHORIZED');
      expect(errorStatus(err)).toBe(401);
      expect(r.answers.map((a) => a.status)).toEqual([401]);
    });

    it('bad input → 400, not found → 404, conflict → 409', async () => {
      const r = recorder();
      const api = createClient({ url, apiKey: adminKey, fetch: r.fetch, transport });
      const bad = await failure(
        api.crm.contacts.create.mutate({ phone: '+14155550111', email: 'not-an-email' }),
      );
      expect(errorCode(bad)).toBe('BAD_REQUEST');
      const missing = await failure(api.crm.contacts.get.query({ id: MISSING_ID }));
      expect(errorCode(missing)).toBe('NOT_FOUND');
      const phone = name === 'batch' ? '+14155550120' : '+14155550121';
      await api.crm.contacts.create.mutate({ phone });
      const dup = await failure(api.crm.contacts.create.mutate({ phone }));
      expect(errorCode(dup)).toBe('CONFLICT');
      expect(r.answers.map((a) => a.status)).toEqual([400, 404, 200, 409]);
    });
  },
);

describe('batches', () => {
  it('calls made together share a request: 207 when results differ, the error status when all fail alike', async () => {
    const r = recorder();
    const api = createClient({ url, apiKey: adminKey, fetch: r.fetch });
    const [ok, missing] = await Promise.allSettled([
      api.campaigns.list.query(),
      api.crm.contacts.get.query({ id: MISSING_ID }),
    ]);
    expect(ok.status).toBe('fulfilled');
    expect(missing.status === 'rejected' && errorCode(missing.reason)).toBe('NOT_FOUND');
    expect(r.answers.map((a) => a.status)).toEqual([207]);

    const both = await Promise.allSettled([
      api.crm.contacts.get.query({ id: MISSING_ID }),
      api.crm.contacts.get.query({ id: MISSING_ID.replace(/1$/, '2') }),
    ]);
    expect(both.map((b) => b.status === 'rejected' && errorCode(b.reason))).toEqual([
      'NOT_FOUND',
      'NOT_FOUND',
    ]);
    expect(r.answers.map((a) => a.status)).toEqual([207, 404]);
    expect(r.answers.every((a) => a.url.includes('batch=1'))).toBe(true);
  });

  it('streaming answers 200 whatever the outcome (what it costs), and still decodes the error', async () => {
    const r = recorder();
    const api = createClient({ url, apiKey: adminKey, fetch: r.fetch, transport: streamTransport });
    const err = await failure(api.crm.contacts.get.query({ id: MISSING_ID }));
    expect(errorCode(err)).toBe('NOT_FOUND');
    expect(r.answers.map((a) => a.status)).toEqual([200]);
  });
});

describe('rate limited → 429 with Retry-After, decoded as TOO_MANY_REQUESTS', () => {
  let limited: TestRuntime;
  let limitedUrl: string;
  let key: string;
  beforeAll(async () => {
    limited = await createTestRuntime({ RATE_LIMIT_PER_MINUTE: '2' });
    key = await limited.key('agent');
    limitedUrl = `${await listen(await limited.app())}/trpc`;
  });
  afterAll(() => limited?.close());

  it.each(['batch', 'single', 'stream'] as const)('transport %s', async (name) => {
    const transport = transports[name];
    const r = recorder();
    // No automatic retry here: the refusal itself is what is looked at.
    const api = createClient({
      url: limitedUrl,
      apiKey: key,
      fetch: r.fetch,
      transport,
      rateLimitRetry: false,
    });
    // Spend the key's budget (2 a minute) on the first transport; later ones find it spent.
    await Promise.allSettled([api.campaigns.list.query(), api.campaigns.list.query()]);
    const errs = await Promise.all([
      failure(api.campaigns.list.query()),
      failure(api.crm.contacts.create.mutate({ phone: '+14155550130' })),
    ]);
    for (const err of errs) {
      expect(errorCode(err)).toBe('TOO_MANY_REQUESTS');
      expect(errorStatus(err)).toBe(429);
      const wait = retryAfterMs(err);
      expect(wait).toBeGreaterThanOrEqual(1000);
      expect(wait).toBeLessThanOrEqual(60_000);
    }
    const refused = r.answers.filter((a) => a.status === 429);
    expect(refused.length).toBeGreaterThan(0);
    for (const a of refused) expect(Number(a.retryAfter)).toBeGreaterThanOrEqual(1);
    expect(r.answers.every((a) => a.status === 200 || a.status === 429)).toBe(true);
  });
});
