import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildInbox, checkInbox } from '../../sdk/examples/inbox/build';
import { type InboxServer, startInboxServer } from '../../sdk/examples/inbox/serve';
import { appRouter } from '../../server/trpc/router';
import { signWithSecret } from '../auth/support';
import { conversationByPhone, type PipelineHarness, startPipeline, textWebhook } from '../helpers/pipeline';
import { CHROMIUM_FLAGS, chromiumPath, ensureSdkBuilt, repoRoot } from './support';

/** What the inbox page calls; the test runs once the router has all of them. */
const INBOX_PROCEDURES = [
  'conversations.list',
  'conversations.get',
  'conversations.messages',
  'conversations.markRead',
  'conversations.sendMessage',
  'conversations.events',
  'bot.setEnabled',
  'conversations.assign',
  'conversations.setStatus',
  'conversations.inboxCounts',
  'staff.me',
  'staff.streamTicket',
];
const missing = INBOX_PROCEDURES.filter((p) => !(p in appRouter._def.procedures));

const GRACE = '+14155550101';
const LINUS = '+14155550102';
const HEDY = '+14155550103';
/** The HS256 secret the API verifies sign-in tokens with (Supabase's legacy JWT secret). */
const SECRET = 'browser-test-jwt-secret-at-least-32-characters';
const ISSUER = 'http://127.0.0.1:54321/auth/v1';

describe.skipIf(missing.length > 0)(
  'the inbox example in headless Chromium, against an API on another origin',
  () => {
    let inbox: InboxServer;
    let h: PipelineHarness;
    let browser: Browser;
    let page: Page;
    const pageErrors: string[] = [];
    const apiRequests: string[] = [];

    beforeAll(async () => {
      const executablePath = await chromiumPath();
      if (!executablePath) throw new Error('Chromium is not installed: apt-get install -y chromium');
      await ensureSdkBuilt();
      const checked = checkInbox();
      if (!checked.ok) throw new Error(`the inbox example does not type-check:\n${checked.output}`);
      await buildInbox();
      inbox = await startInboxServer();
      h = await startPipeline({ CORS_ORIGINS: inbox.origin, SUPABASE_JWT_SECRET: SECRET });
      browser = await chromium.launch({ executablePath, args: CHROMIUM_FLAGS });
      page = await browser.newPage({ viewport: { width: 1100, height: 700 } });
      page.on('pageerror', (err) => pageErrors.push(err.message));
      page.on('request', (req) => {
        if (req.url().startsWith(h.baseUrl)) apiRequests.push(req.url());
      });
    }, 420_000);

    afterAll(async () => {
      await browser?.close();
      await h?.closeAll();
      await inbox?.close();
    });

    it('lists conversations, updates live, opens one, switches the bot off and sends a reply', async () => {
      expect(new URL(h.baseUrl).origin).not.toBe(inbox.origin);
      const first = await h.post(
        textWebhook({ phone: GRACE.slice(1), text: 'Hello, do you deliver?', pushName: 'Grace' }),
      );
      expect(first.status).toBe(200);

      const key = await h.key('agent');
      await page.goto(`${inbox.origin}/#api=${encodeURIComponent(`${h.baseUrl}/trpc`)}&key=${key}`);
      // Connected from the address: the connect form stays hidden, and the key left the address bar.
      await expect.poll(() => page.locator('#inbox').isVisible(), { timeout: 15_000 }).toBe(true);
      expect(await page.locator('#connect').isVisible()).toBe(false);
      expect(page.url()).toBe(`${inbox.origin}/`);

      const list = page.locator('#conversations li');
      await expect.poll(() => list.filter({ hasText: 'Grace' }).count(), { timeout: 15_000 }).toBe(1);
      await expect
        .poll(() => page.locator('#connection').getAttribute('data-state'), { timeout: 15_000 })
        .toBe('pending');

      // A new customer writes: the list shows them without a reload, through the SSE subscription.
      const second = await h.post(
        textWebhook({ phone: LINUS.slice(1), text: 'Is the shop open today?', pushName: 'Linus' }),
      );
      expect(second.status).toBe(200);
      await expect.poll(() => list.filter({ hasText: 'Linus' }).count(), { timeout: 15_000 }).toBe(1);
      expect(Number(await page.locator('body').getAttribute('data-events'))).toBeGreaterThan(0);

      // Open Grace's conversation: her message is there, and what she writes next arrives while it is open.
      await list.filter({ hasText: 'Grace' }).click();
      const fromGrace = page.locator('#messages li[data-author="contact"]');
      await expect
        .poll(() => fromGrace.filter({ hasText: 'do you deliver?' }).count(), { timeout: 15_000 })
        .toBe(1);
      const third = await h.post(
        textWebhook({ phone: GRACE.slice(1), text: 'And until what time are you open?', pushName: 'Grace' }),
      );
      expect(third.status).toBe(200);
      await expect
        .poll(() => fromGrace.filter({ hasText: 'until what time' }).count(), { timeout: 15_000 })
        .toBe(1);
      const conversationId = await page.locator('#detail').getAttribute('data-conversation-id');
      expect(conversationId).toMatch(/^[0-9a-f-]{36}$/);
      // Seen while open: the page marks it read, and the list (refreshed by that event) shows no badge.
      await expect
        .poll(() => list.filter({ hasText: 'Grace' }).locator('.unread').count(), { timeout: 15_000 })
        .toBe(0);
      const seen = await h.caller('admin').conversations.get({ id: conversationId! });
      expect(seen.conversation.unreadCount).toBe(0);

      // Switch the bot off: the page shows it, and the server agrees.
      expect(await page.locator('#owner').getAttribute('data-owner')).toBe('bot');
      await page.locator('#toggle-bot').click();
      await expect
        .poll(() => page.locator('#owner').getAttribute('data-owner'), { timeout: 10_000 })
        .toBe('human');
      const status = await h.caller('admin').bot.status({ conversationId: conversationId! });
      expect(status.owner).toBe('human');

      // An empty reply is refused by the server's contract, and the page shows the field's message.
      await page.locator('#reply button[type="submit"]').click();
      await expect
        .poll(() => page.locator('#reply-error').textContent(), { timeout: 10_000 })
        .toMatch(/required/);

      // A real reply is stored as the agent's message and shown in the conversation.
      await page.locator('#reply textarea').fill('Yes, we deliver on Tuesdays.');
      await page.locator('#reply button[type="submit"]').click();
      await expect
        .poll(
          () => page.locator('#messages li[data-author="agent"]').filter({ hasText: 'Tuesdays' }).count(),
          {
            timeout: 10_000,
          },
        )
        .toBe(1);
      const stored = await h
        .caller('admin')
        .conversations.messages({ conversationId: conversationId!, limit: 10 });
      expect(
        stored.items.some((m) => m.author === 'agent' && m.body === 'Yes, we deliver on Tuesdays.'),
      ).toBe(true);

      // Queries and mutations went to the API's origin, and the event stream too (with its connection
      // parameters: the browser's EventSource cannot send an Authorization header).
      expect(apiRequests.some((u) => u.includes('/trpc/conversations.list'))).toBe(true);
      expect(
        apiRequests.some((u) => u.includes('/trpc/conversations.events') && u.includes('connectionParams=')),
      ).toBe(true);
      expect(pageErrors).toEqual([]);

      const artifacts = path.join(repoRoot, 'test-artifacts');
      await mkdir(artifacts, { recursive: true });
      await page.screenshot({ path: path.join(artifacts, 'sdk-inbox.png'), fullPage: true });
    }, 120_000);

    it('two signed-in agents see each other assign and resolve a conversation live', async () => {
      const admin = h.caller('admin');
      const ada = await admin.staff.invite({ email: 'ada@team.example', displayName: 'Ada', role: 'agent' });
      const bo = await admin.staff.invite({ email: 'bo@team.example', displayName: 'Bo', role: 'agent' });
      const tokenFor = (email: string) => signWithSecret(SECRET, ISSUER, { email, verified: true });
      const tokens = [await tokenFor('ada@team.example'), await tokenFor('bo@team.example')];

      const hello = await h.post(
        textWebhook({ phone: HEDY.slice(1), text: 'Hi, a question', pushName: 'Hedy' }),
      );
      expect(hello.status).toBe(200);
      const conversationId = (await conversationByPhone(h, HEDY.slice(1))).id;
      const before = await admin.conversations.inboxCounts();

      const errors: string[] = [];
      const requests: string[] = [];
      /** A page of its own (own browser context), signed in from `?api=&token=` as development allows. */
      async function signIn(token: string, name: string) {
        const context = await browser.newContext({ viewport: { width: 1100, height: 700 } });
        const p = await context.newPage();
        p.on('pageerror', (err) => errors.push(`${name}: ${err.message}`));
        p.on('request', (req) => {
          if (req.url().startsWith(h.baseUrl)) requests.push(req.url());
        });
        await p.goto(`${inbox.origin}/?api=${encodeURIComponent(`${h.baseUrl}/trpc`)}&token=${token}`);
        await expect.poll(() => p.locator('#who').textContent(), { timeout: 15_000 }).toBe(`${name} (agent)`);
        // The token left the address bar (and the history entry) as soon as the page read it.
        expect(p.url()).toBe(`${inbox.origin}/`);
        await expect
          .poll(() => p.locator('#connection').getAttribute('data-state'), { timeout: 15_000 })
          .toBe('pending');
        return p;
      }
      const adaPage = await signIn(tokens[0]!, 'Ada');
      const boPage = await signIn(tokens[1]!, 'Bo');
      const count = (p: Page, tab: string) =>
        p.locator(`#tabs [data-tab="${tab}"] .count`).textContent().then(Number);
      const row = (p: Page) => p.locator(`#conversations li[data-conversation-id="${conversationId}"]`);

      for (const p of [adaPage, boPage]) {
        await expect.poll(() => count(p, 'unassigned'), { timeout: 15_000 }).toBe(before.unassigned);
        expect(await count(p, 'all')).toBe(before.all);
        expect(await count(p, 'mine')).toBe(0);
        await expect.poll(() => row(p).getAttribute('data-assignee-id'), { timeout: 15_000 }).toBe('');
        await row(p).click();
        await expect
          .poll(() => p.locator('#detail').getAttribute('data-conversation-id'), { timeout: 15_000 })
          .toBe(conversationId);
      }

      // Ada takes it: Bo's list, counts and open conversation show it without a reload.
      await adaPage.locator('#assign-me').click();
      await expect
        .poll(() => boPage.locator('#assignee').textContent(), { timeout: 15_000 })
        .toBe('Assigned to Ada');
      await expect.poll(() => row(boPage).getAttribute('data-assignee-id'), { timeout: 15_000 }).toBe(ada.id);
      await expect.poll(() => count(boPage, 'unassigned'), { timeout: 15_000 }).toBe(before.unassigned - 1);
      expect(await count(boPage, 'mine')).toBe(0);
      await expect.poll(() => count(adaPage, 'mine'), { timeout: 15_000 }).toBe(1);
      expect(await adaPage.locator('#assign-me').isVisible()).toBe(false);

      // Bo may not take a colleague's conversation: the server refuses and the page says so.
      await boPage.locator('#assign-me').click();
      await expect
        .poll(() => boPage.locator('#action-error').textContent(), { timeout: 10_000 })
        .toMatch(/assigned to someone else/);
      // A refused action is not a sign-out: Bo's inbox stays.
      expect(await boPage.locator('#inbox').isVisible()).toBe(true);
      expect((await admin.conversations.get({ id: conversationId })).conversation.assignee).toEqual({
        id: ada.id,
        name: 'Ada',
      });

      // Ada resolves it: Bo's page shows it resolved and counts it no more.
      await adaPage.locator('#resolve').click();
      await expect
        .poll(() => boPage.locator('#status').getAttribute('data-status'), { timeout: 15_000 })
        .toBe('resolved');
      await expect.poll(() => row(boPage).getAttribute('data-status'), { timeout: 15_000 }).toBe('resolved');
      await expect.poll(() => count(boPage, 'all'), { timeout: 15_000 }).toBe(before.all - 1);
      await expect.poll(() => count(adaPage, 'mine'), { timeout: 15_000 }).toBe(0);
      expect(await adaPage.locator('#resolve').textContent()).toBe('Reopen');
      const stored = await admin.conversations.get({ id: conversationId });
      expect(stored.conversation.status).toBe('resolved');
      expect(stored.conversation.assignee?.id).toBe(ada.id);
      expect(bo.id).not.toBe(ada.id);

      // The "mine" tab lists what is assigned to the signed-in person only.
      await adaPage.locator('#tabs [data-tab="mine"]').click();
      await expect.poll(() => adaPage.locator('#conversations li').count(), { timeout: 10_000 }).toBe(1);
      expect(await row(adaPage).count()).toBe(1);

      // Each page's stream opened with a single-use ticket; no request URL ever carried a sign-in token.
      const streams = requests.filter((u) => u.includes('/trpc/conversations.events'));
      expect(streams.length).toBeGreaterThanOrEqual(2);
      for (const u of streams) {
        const params = JSON.parse(new URL(u).searchParams.get('connectionParams') ?? '{}');
        expect(params.ticket).toMatch(/^wst_/);
      }
      expect(requests.filter((u) => u.includes('/trpc/staff.streamTicket')).length).toBeGreaterThanOrEqual(2);
      for (const token of tokens) expect(requests.some((u) => u.includes(token))).toBe(false);
      expect(errors).toEqual([]);

      const artifacts = path.join(repoRoot, 'test-artifacts');
      await mkdir(artifacts, { recursive: true });
      await boPage.screenshot({ path: path.join(artifacts, 'sdk-inbox-team.png'), fullPage: true });
      await adaPage.context().close();
      await boPage.context().close();
    }, 120_000);
  },
);
