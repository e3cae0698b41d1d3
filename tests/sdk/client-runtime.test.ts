import type { TRPCLink } from '@trpc/client';
import { observable } from '@trpc/server/observable';
import fc from 'fast-check';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  API_VERSION,
  type AppRouter,
  type ClientOptions,
  createClient,
  createDefaultLinks,
  errorCode,
  type FetchLike,
  isCompatibleApiVersion,
  isRateLimited,
} from '../../sdk/src/index';
import { buildApp } from '../../server/app';
import { createRateLimiter } from '../../server/http/rate-limit';
import { createLogger } from '../../server/log';
import { createTestRuntime, type TestRuntime } from '../helpers/runtime';
import { listen } from '../helpers/sse';

/**
 * The sdk client's behaviour at run time against a live server: rate-limited queries retried after the
 * server's Retry-After, mutations never retried, composed links, and the API version check. The rate
 * limit counts on a clock the test moves, so a window ends exactly when the test says.
 */

const BUDGET = 2;
const WINDOW_MS = 60_000;

let t: TestRuntime;
let app: FastifyInstance;
let url: string;
let clock = 1_000_000;
let windowStart = clock;

beforeAll(async () => {
  t = await createTestRuntime({ RATE_LIMIT_PER_MINUTE: String(BUDGET) });
  app = await buildApp({
    runtime: t.runtime,
    logger: createLogger({ logLevel: 'silent' }),
    rateLimiter: createRateLimiter({ windowMs: WINDOW_MS, now: () => clock }),
  });
  url = `${await listen(app)}/trpc`;
});
afterAll(async () => {
  await app?.close();
  await t?.close();
});

/** A new key whose whole budget is spent, with the current window ending in half a second (Retry-After: 1). */
async function spentKey(): Promise<string> {
  clock += 2 * WINDOW_MS;
  windowStart = clock;
  const key = await t.key('admin');
  const api = createClient({ url, apiKey: key, rateLimitRetry: false });
  await Promise.all(Array.from({ length: BUDGET }, () => api.campaigns.list.query()));
  clock = windowStart + WINDOW_MS - 500;
  return key;
}

/** Moves the clock to a new window: every budget is whole again (two calls per key and test at most). */
const newWindow = () => {
  clock += 2 * WINDOW_MS;
};

/** A fetch that records each answer's status and, on a 429, optionally moves the clock to the next window. */
function recorder(opts: { windowEndsOn429: boolean }) {
  const statuses: number[] = [];
  const fetch: FetchLike = async (input, init) => {
    const res = await globalThis.fetch(input, init);
    statuses.push(res.status);
    if (res.status === 429 && opts.windowEndsOn429) clock = windowStart + WINDOW_MS;
    return res;
  };
  return { statuses, fetch };
}

async function failure(call: Promise<unknown>): Promise<unknown> {
  try {
    await call;
  } catch (err) {
    return err;
  }
  throw new Error('the call succeeded');
}

describe('rate-limited calls', () => {
  it('a refused query is sent again after Retry-After and succeeds', async () => {
    const key = await spentKey();
    const r = recorder({ windowEndsOn429: true });
    const api = createClient({ url, apiKey: key, fetch: r.fetch });
    const page = await api.campaigns.list.query();
    expect(page).toBeDefined();
    expect(r.statuses).toEqual([429, 200]);
  });

  it('a refused mutation fails at once with TOO_MANY_REQUESTS: never sent twice', async () => {
    const key = await spentKey();
    const r = recorder({ windowEndsOn429: true });
    const api = createClient({ url, apiKey: key, fetch: r.fetch });
    const err = await failure(api.crm.contacts.create.mutate({ phone: '+14155550140' }));
    expect(isRateLimited(err)).toBe(true);
    expect(r.statuses).toEqual([429]);
    // The window has ended: nothing was created behind the caller's back.
    expect(await t.caller('admin').crm.contacts.list({ limit: 10 })).toMatchObject({ items: [] });
  });

  it('retries are bounded: past maxRetries the refusal reaches the caller', async () => {
    const key = await spentKey();
    const r = recorder({ windowEndsOn429: false });
    const api = createClient({ url, apiKey: key, fetch: r.fetch, rateLimitRetry: { maxRetries: 1 } });
    const err = await failure(api.campaigns.list.query());
    expect(errorCode(err)).toBe('TOO_MANY_REQUESTS');
    expect(r.statuses).toEqual([429, 429]);
  });

  it('a Retry-After longer than maxDelayMs fails at once', async () => {
    const key = await spentKey();
    const r = recorder({ windowEndsOn429: true });
    const api = createClient({ url, apiKey: key, fetch: r.fetch, rateLimitRetry: { maxDelayMs: 999 } });
    expect(isRateLimited(await failure(api.campaigns.list.query()))).toBe(true);
    expect(r.statuses).toEqual([429]);
  });

  it('rateLimitRetry: false turns the retry off', async () => {
    const key = await spentKey();
    const r = recorder({ windowEndsOn429: true });
    const api = createClient({ url, apiKey: key, fetch: r.fetch, rateLimitRetry: false });
    expect(isRateLimited(await failure(api.campaigns.list.query()))).toBe(true);
    expect(r.statuses).toEqual([429]);
  });
});

/** A link that records the path of every operation it passes on. */
function tap(seen: string[]): TRPCLink<AppRouter> {
  return () =>
    ({ op, next }) =>
      observable((observer) => {
        seen.push(`${op.type} ${op.path}`);
        return next(op).subscribe(observer);
      });
}

describe('links', () => {
  let key: string;
  beforeAll(async () => {
    key = await t.key('admin');
  });
  beforeEach(newWindow);

  it('a function receives the default links and composes around them', async () => {
    const seen: string[] = [];
    const api = createClient({ url, apiKey: key, links: (defaults) => [tap(seen), ...defaults] });
    await api.campaigns.list.query();
    expect(seen).toEqual(['query campaigns.list']);
  });

  it('a list replaces the defaults; createDefaultLinks builds them for it', async () => {
    const seen: string[] = [];
    const options: ClientOptions = { url, apiKey: key };
    const api = createClient({ ...options, links: [tap(seen), ...createDefaultLinks(options)] });
    const err = await failure(api.crm.contacts.get.query({ id: '00000000-0000-4000-8000-000000000001' }));
    expect(errorCode(err)).toBe('NOT_FOUND');
    expect(seen).toEqual(['query crm.contacts.get']);
  });
});

describe('API version', () => {
  let key: string;
  beforeAll(async () => {
    key = await t.key('admin');
  });
  beforeEach(newWindow);

  /** The live server's answers, with the version header replaced as a server of another version sends it. */
  const serverOf =
    (version: string): FetchLike =>
    async (input, init) => {
      const res = await globalThis.fetch(input, init);
      const headers = new Headers(res.headers);
      headers.set('x-api-version', version);
      return new Response(await res.arrayBuffer(), { status: res.status, headers });
    };

  it('the server sends its version on every answer and in /health', async () => {
    const res = await globalThis.fetch(url.replace(/\/trpc$/, '/health'));
    expect(res.headers.get('x-api-version')).toBe(API_VERSION);
    expect(((await res.json()) as { apiVersion: string }).apiVersion).toBe(API_VERSION);
    const seen: string[] = [];
    const onVersionMismatch = (m: { server: string }) => void seen.push(m.server);
    await createClient({ url, apiKey: key, onVersionMismatch }).campaigns.list.query();
    expect(seen).toEqual([]);
  });

  it('an incompatible major is reported once, with both versions', async () => {
    const mismatches: unknown[] = [];
    const api = createClient({
      url,
      apiKey: key,
      fetch: serverOf('2.0.0'),
      onVersionMismatch: (m) => void mismatches.push(m),
    });
    await api.campaigns.list.query();
    await api.campaigns.list.query();
    newWindow();
    await failure(api.crm.contacts.get.query({ id: '00000000-0000-4000-8000-000000000001' }));
    expect(mismatches).toEqual([{ server: '2.0.0', client: API_VERSION }]);
  });

  it('a newer minor of the same major is compatible', async () => {
    const mismatches: unknown[] = [];
    const api = createClient({
      url,
      apiKey: key,
      fetch: serverOf('1.9.3'),
      onVersionMismatch: (m) => void mismatches.push(m),
    });
    await api.campaigns.list.query();
    expect(mismatches).toEqual([]);
  });

  it('by default the client warns once on the console', async () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    try {
      const api = createClient({ url, apiKey: key, fetch: serverOf('3.1.0') });
      await api.campaigns.list.query();
      await api.campaigns.list.query();
      newWindow();
      await createClient({ url, apiKey: key, fetch: serverOf('3.1.0') }).campaigns.list.query();
      expect(warn).toHaveBeenCalledTimes(1);
      expect(String(warn.mock.calls[0]?.[0])).toContain('3.1.0');
    } finally {
      warn.mockRestore();
    }
  });

  it('compatibility: same major (and same minor below 1.0); anything not semver is incompatible', () => {
    const n = fc.nat({ max: 50 });
    fc.assert(
      fc.property(n, n, n, n, n, n, (a, b, c, x, y, z) => {
        const server = `${a}.${b}.${c}`;
        const client = `${x}.${y}.${z}`;
        const expected = a === x && (a > 0 || b === y);
        expect(isCompatibleApiVersion(server, client)).toBe(expected);
      }),
    );
    fc.assert(
      fc.property(fc.string(), (junk) => {
        if (/^v?\d+\.\d+\.\d+([-+].*)?$/.test(junk.trim())) return;
        expect(isCompatibleApiVersion(junk)).toBe(false);
      }),
    );
  });
});
