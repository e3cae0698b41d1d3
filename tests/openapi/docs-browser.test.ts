import type { FastifyInstance } from 'fastify';
import { type Browser, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestRuntime, type TestRuntime } from '../helpers/runtime';
import { CHROMIUM_FLAGS, chromiumPath } from '../sdk/support';

/** The API reference at /docs renders in headless Chromium with nothing fetched from elsewhere. */
describe('/docs in headless Chromium', () => {
  let t: TestRuntime;
  let app: FastifyInstance;
  let origin: string;
  let browser: Browser;

  beforeAll(async () => {
    const executablePath = await chromiumPath();
    if (!executablePath) throw new Error('Chromium is not installed: apt-get install -y chromium');
    t = await createTestRuntime();
    app = await t.app();
    await app.listen({ host: '127.0.0.1', port: 0 });
    const addr = app.server.address();
    origin = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
    browser = await chromium.launch({ executablePath, args: CHROMIUM_FLAGS });
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await t?.close();
  });

  it('shows the operations from /openapi.json, loading only from this server', async () => {
    const page = await browser.newPage({ viewport: { width: 1200, height: 800 } });
    const pageErrors: string[] = [];
    const requests: string[] = [];
    page.on('pageerror', (err) => pageErrors.push(err.message));
    page.on('request', (req) => requests.push(req.url()));

    await page.goto(`${origin}/docs`);
    expect(page.url()).toBe(`${origin}/docs/`);
    await expect
      .poll(() => page.getByText('WhatsApp CRM bot API').first().isVisible(), { timeout: 30_000 })
      .toBe(true);
    // Operation groups and an operation of the document are on the page.
    await expect.poll(() => page.getByText('Contacts').first().isVisible(), { timeout: 30_000 }).toBe(true);
    // The first group is open: its operations show by their names (the procedure each one runs).
    await expect
      .poll(() => page.getByText('conversations.list').first().isVisible(), { timeout: 30_000 })
      .toBe(true);

    expect(pageErrors).toEqual([]);
    expect(requests).toContain(`${origin}/docs/js/scalar.js`);
    expect(requests).toContain(`${origin}/openapi.json`);
    const elsewhere = requests.filter(
      (u) => !u.startsWith(origin) && !u.startsWith('data:') && !u.startsWith('blob:'),
    );
    expect(elsewhere).toEqual([]);
    await page.close();
  }, 120_000);
});
