import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type Browser, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../server/config';
import { createTestRuntime, type TestRuntime } from '../helpers/runtime';
import { listen } from '../helpers/sse';
import { chromiumPath } from '../sdk/support';

/** Which request headers browsers may send cross-origin, and which answer headers they may read. */

const TRACING = ['traceparent', 'tracestate', 'x-request-id', 'baggage'];
const API_OWN = ['content-type', 'authorization', 'x-api-key', 'trpc-accept', 'last-event-id'];
const ORIGIN = 'https://dashboard.example.com';

const preflight = (t: TestRuntime, headers: string[]) =>
  t.app().then((app) =>
    app.inject({
      method: 'OPTIONS',
      url: '/trpc/campaigns.list',
      headers: {
        origin: ORIGIN,
        'access-control-request-method': 'POST',
        'access-control-request-headers': headers.join(','),
      },
    }),
  );

const allowed = (res: { headers: Record<string, unknown> }) =>
  String(res.headers['access-control-allow-headers'] ?? '')
    .split(',')
    .map((h) => h.trim().toLowerCase());

describe('default settings', () => {
  let t: TestRuntime;
  beforeAll(async () => {
    t = await createTestRuntime({ CORS_ORIGINS: ORIGIN });
  });
  afterAll(() => t?.close());

  it("a preflight with tracing headers is allowed, alongside the API's own", async () => {
    const res = await preflight(t, [...TRACING, ...API_OWN]);
    expect(res.statusCode).toBe(204);
    expect(res.headers['access-control-allow-origin']).toBe(ORIGIN);
    expect(allowed(res)).toEqual(expect.arrayContaining([...TRACING, ...API_OWN]));
  });

  it('answers expose Retry-After and the API version to browser code', async () => {
    const res = await (await t.app()).inject({ url: '/health', headers: { origin: ORIGIN } });
    const exposed = String(res.headers['access-control-expose-headers']).toLowerCase();
    expect(exposed).toContain('retry-after');
    expect(exposed).toContain('x-api-version');
  });
});

describe('CORS_ALLOWED_HEADERS', () => {
  it('replaces the tracing headers; the API’s own stay allowed', async () => {
    const t = await createTestRuntime({
      CORS_ORIGINS: ORIGIN,
      CORS_ALLOWED_HEADERS: ' X-Tenant , x-correlation-id',
    });
    try {
      const res = await preflight(t, ['x-tenant', 'authorization']);
      const list = allowed(res);
      expect(list).toEqual(expect.arrayContaining(['x-tenant', 'x-correlation-id', ...API_OWN]));
      expect(list).not.toContain('traceparent');
    } finally {
      await t.close();
    }
  });

  it('refuses anything that is not a list of header names, naming the setting', () => {
    for (const bad of ['x-a,b c', 'x-a;', 'tr\u0000ace', 'é', 'a:b']) {
      expect(() => loadConfig({ CORS_ALLOWED_HEADERS: bad, DATA_DIR: 'memory://' })).toThrow(
        /CORS_ALLOWED_HEADERS/,
      );
    }
    expect(loadConfig({ CORS_ALLOWED_HEADERS: '', DATA_DIR: 'memory://' }).http.corsAllowedHeaders).toEqual(
      API_OWN,
    );
  });
});

describe('in a browser: a page on another origin calls the API with tracing headers', () => {
  let t: TestRuntime;
  let page: Server;
  let pageOrigin: string;
  let apiUrl: string;
  let browser: Browser | undefined;

  beforeAll(async () => {
    const executablePath = await chromiumPath();
    if (!executablePath) throw new Error('Chromium is not installed: apt-get install -y chromium');
    page = createServer((_req, res) => {
      res.setHeader('content-type', 'text/html');
      res.end('<!doctype html><title>dashboard</title>');
    });
    await new Promise<void>((resolve) => page.listen(0, '127.0.0.1', resolve));
    pageOrigin = `http://127.0.0.1:${(page.address() as AddressInfo).port}`;
    t = await createTestRuntime({ CORS_ORIGINS: pageOrigin });
    // Another origin: same address, another host name and port.
    apiUrl = (await listen(await t.app())).replace('127.0.0.1', 'localhost');
    browser = await chromium.launch({
      executablePath,
      args: ['--headless', '--no-sandbox', '--disable-gpu'],
    });
  });
  afterAll(async () => {
    await browser?.close();
    await t?.close();
    await new Promise((resolve) => page?.close(resolve));
  });

  it('the preflight lets traceparent, tracestate, x-request-id and baggage through; an unlisted header is blocked', async () => {
    const key = await t.key('agent');
    const tab = await browser!.newPage();
    await tab.goto(pageOrigin);
    const result = await tab.evaluate(
      async ({ apiUrl, key }) => {
        const call = async (extra: Record<string, string>) => {
          try {
            const res = await fetch(`${apiUrl}/trpc/campaigns.list`, {
              headers: { authorization: `Bearer ${key}`, ...extra },
            });
            return { status: res.status, version: res.headers.get('x-api-version') };
          } catch (err) {
            return { error: String(err) };
          }
        };
        return {
          traced: await call({
            traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
            tracestate: 'vendor=1',
            'x-request-id': 'req-1',
            baggage: 'userId=alice',
          }),
          unlisted: await call({ 'x-not-allowed': '1' }),
        };
      },
      { apiUrl, key },
    );
    expect(result.traced).toEqual({ status: 200, version: '1.0.0' });
    expect(result.unlisted).toMatchObject({ error: expect.stringMatching(/fetch/i) });
  });
});
