import { sql } from 'drizzle-orm';
import { EventSource } from 'eventsource';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createClient } from '../../sdk/src/index';
import { createTestRuntime, type TestRuntime } from '../helpers/runtime';
import { listen } from '../helpers/sse';
import { signWithSecret } from './support';

/**
 * Subscriptions from browsers: a single-use stream ticket in the URL instead of the credential. The
 * server accepts a ticket once, within its minute, for subscriptions only; the sdk's native-EventSource
 * path (here the `eventsource` package standing in for the browser's class, which sends no headers)
 * asks for a fresh ticket before each connection, so no URL it requests carries the lasting token.
 */

const SECRET = 'stream-ticket-secret-at-least-32-characters';
let t: TestRuntime;
let base: string;
let token: string;

const eventsUrl = (ticket: string) =>
  `${base}/trpc/conversations.events?input=${encodeURIComponent(JSON.stringify({ json: {} }))}` +
  `&connectionParams=${encodeURIComponent(JSON.stringify({ ticket }))}`;

async function newTicket(): Promise<string> {
  const res = await fetch(`${base}/trpc/staff.streamTicket`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: '{}',
  });
  expect(res.status).toBe(200);
  return ((await res.json()) as { result: { data: { json: { ticket: string } } } }).result.data.json.ticket;
}

/**
 * Opens the stream with a ticket and reads what comes within half a second: a refused stream still
 * answers 200 (Server-Sent Events) with a `serialized-error` event carrying UNAUTHORIZED.
 */
async function open(url: string): Promise<'streaming' | 'refused'> {
  const ac = new AbortController();
  const res = await fetch(url, { headers: { accept: 'text/event-stream' }, signal: ac.signal });
  const reader = res.body!.getReader();
  let text = '';
  const deadline = Date.now() + 500;
  while (!text.includes('serialized-error') && Date.now() < deadline) {
    const chunk = await Promise.race([
      reader.read(),
      new Promise<null>((r) => setTimeout(() => r(null), Math.max(1, deadline - Date.now()))),
    ]);
    if (!chunk || chunk.done) break;
    text += new TextDecoder().decode(chunk.value);
  }
  ac.abort();
  if (text.includes('serialized-error')) {
    expect(text).toContain('UNAUTHORIZED');
    return 'refused';
  }
  expect(text).toContain('connected');
  return 'streaming';
}

beforeAll(async () => {
  t = await createTestRuntime({ SUPABASE_JWT_SECRET: SECRET });
  const email = 'streamer@team.example';
  await t.caller('admin').staff.invite({ email, displayName: 'Streamer', role: 'agent' });
  token = await signWithSecret(SECRET, 'http://127.0.0.1:54321/auth/v1', { email, verified: true });
  base = await listen(await t.app());
});
afterAll(() => t?.close());

describe('stream tickets on the server', () => {
  it('open one subscription once; a used, expired or foreign-purpose ticket is refused', async () => {
    const ticket = await newTicket();
    expect(ticket).toMatch(/^wst_/);
    expect(await open(eventsUrl(ticket))).toBe('streaming');
    expect(await open(eventsUrl(ticket))).toBe('refused');

    const stale = await newTicket();
    await t.runtime.database.db.execute(
      sql`update stream_tickets set expires_at = now() - interval '1 second'`,
    );
    expect(await open(eventsUrl(stale))).toBe('refused');

    // A ticket opens subscriptions only: a query carrying one is unauthenticated.
    const other = await newTicket();
    const query = await fetch(
      `${base}/trpc/staff.me?connectionParams=${encodeURIComponent(JSON.stringify({ ticket: other }))}`,
    );
    expect(query.status).toBe(401);
    // ...and the ticket is still good for its stream.
    expect(await open(eventsUrl(other))).toBe('streaming');
  });

  it('stops working when its person is deactivated before it is used', async () => {
    const email = 'leaver@team.example';
    const { id } = await t.caller('admin').staff.invite({ email, displayName: 'Leaver', role: 'agent' });
    const leaverToken = await signWithSecret(SECRET, 'http://127.0.0.1:54321/auth/v1', {
      email,
      verified: true,
    });
    const res = await fetch(`${base}/trpc/staff.streamTicket`, {
      method: 'POST',
      headers: { authorization: `Bearer ${leaverToken}`, 'content-type': 'application/json' },
      body: '{}',
    });
    const ticket = ((await res.json()) as { result: { data: { json: { ticket: string } } } }).result.data.json
      .ticket;
    await t.caller('admin').staff.deactivate({ id });
    expect(await open(eventsUrl(ticket))).toBe('refused');
  });
});

describe('the sdk with the runtime’s own EventSource', () => {
  it('never puts the token in a URL, and takes a new ticket for each (re)connection', async () => {
    const urls: string[] = [];
    class BrowserLikeEventSource extends EventSource {
      constructor(url: string | URL) {
        urls.push(String(url));
        super(url);
      }
    }
    vi.stubGlobal('EventSource', BrowserLikeEventSource);
    const client = createClient({
      url: `${base}/trpc`,
      getToken: () => token,
      fetch: (input, init) => {
        urls.push(String(input));
        return fetch(input, init);
      },
    });
    let started = 0;
    const sub = client.conversations.events.subscribe(
      {},
      { onStarted: () => started++, onData: () => {}, onError: () => {} },
    );
    try {
      await vi.waitFor(() => expect(started).toBe(1), { timeout: 10_000 });
      // Drop every connection: the stream must come back on a fresh ticket.
      (await t.app()).server.closeAllConnections();
      await vi.waitFor(() => expect(started).toBeGreaterThanOrEqual(2), { timeout: 15_000 });
    } finally {
      sub.unsubscribe();
      vi.unstubAllGlobals();
    }
    const streams = urls.filter((u) => u.includes('conversations.events'));
    expect(streams.length).toBeGreaterThanOrEqual(2);
    const tickets = streams.map((u) => JSON.parse(new URL(u).searchParams.get('connectionParams')!).ticket);
    expect(new Set(tickets).size).toBe(tickets.length);
    expect(urls.some((u) => u.includes('staff.streamTicket'))).toBe(true);
    for (const u of urls) {
      expect(u).not.toContain(token);
      expect(decodeURIComponent(u)).not.toContain('authorization');
    }
  });
});
