import { execFile, execFileSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { drizzle } from 'drizzle-orm/postgres-js';
import postgres from 'postgres';
import { schema } from '../../drizzle';
import { webhookHeaders } from '../../scripts/lib/wasender-payloads';
import { createAuthService } from '../../server/services/auth';
import { type FakeOpenAIOptions, startFakeOpenAI } from '../fakes/openai-server';
import { type FakeWasenderSend, startFakeWasender } from '../fakes/wasender-server';
import { newId, textWebhook, WEBHOOK_SECRET } from './pipeline';
import { createScratchDatabase } from './server-process';

/**
 * Helpers for the reliability tests: bounded waits, a webhook poster that behaves like a gateway
 * (concurrent, retrying what was not acknowledged), a report of work that never finished, and a
 * private Postgres cluster that a test may kill and restart without touching the shared server.
 */

const run = promisify(execFile);
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `check` until it returns a truthy value; throws with `what` (and the last detail) after the deadline. */
export async function waitUntil<T>(
  what: string,
  check: () => Promise<T | false | null | undefined> | T | false | null | undefined,
  opts: {
    timeoutMs: number;
    intervalMs?: number;
    detail?: () => Promise<string> | string;
    /** Checked on every round; what it throws ends the wait at once (e.g. "the server died"). */
    guard?: () => void;
  },
): Promise<T> {
  const deadline = Date.now() + opts.timeoutMs;
  let lastError: unknown;
  for (;;) {
    opts.guard?.();
    try {
      const v = await check();
      if (v) return v;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > deadline) {
      const detail = opts.detail ? await Promise.resolve(opts.detail()).catch((e) => String(e)) : '';
      throw new Error(
        `timed out after ${opts.timeoutMs} ms waiting for ${what}` +
          (lastError ? ` (last error: ${(lastError as Error).message})` : '') +
          (detail ? `\n${detail}` : ''),
      );
    }
    await sleep(opts.intervalMs ?? 100);
  }
}

// ---------------------------------------------------------------------------------------------------
// Inbound load

export interface Inbound {
  providerId: string;
  /** Digits without '+', as WhatsApp ids carry them. */
  phone: string;
  text: string;
  body: ReturnType<typeof textWebhook>;
  /** Statuses (or error names) of every delivery attempt, in order. */
  attempts: Array<number | string>;
  /** True once a delivery got 200: the server said it stored the message. */
  acked: boolean;
}

/** One message each from `count` different customers, with phones `+1<area>555<nnnn>`. */
export function inboundBurst(count: number, area = '415', tag = 'burst'): Inbound[] {
  if (count > 10_000) throw new RangeError('at most 10,000 customers per area code');
  return Array.from({ length: count }, (_, i) => {
    const phone = `1${area}555${String(i).padStart(4, '0')}`;
    const providerId = newId();
    const text = `${tag} message ${i} from ${phone}`;
    return {
      providerId,
      phone,
      text,
      body: textWebhook({ phone, text, id: providerId }),
      attempts: [],
      acked: false,
    };
  });
}

/** Posts one delivery of a webhook; records the outcome on the item. Never throws. */
export async function deliver(item: Inbound, baseUrl: string, timeoutMs = 10_000): Promise<number | string> {
  let outcome: number | string;
  try {
    const res = await fetch(`${baseUrl}/webhook`, {
      method: 'POST',
      headers: webhookHeaders(WEBHOOK_SECRET),
      body: JSON.stringify(item.body),
      signal: AbortSignal.timeout(timeoutMs),
    });
    await res.arrayBuffer().catch(() => undefined);
    outcome = res.status;
  } catch (err) {
    outcome = (err as Error).name || 'error';
  }
  item.attempts.push(outcome);
  if (outcome === 200) item.acked = true;
  return outcome;
}

/**
 * Delivers every item once with at most `concurrency` requests in flight, to the URL `target` picks
 * (a function, so a test can switch servers mid-burst). Resolves when every request has answered.
 */
export async function deliverAll(
  items: Inbound[],
  target: (item: Inbound, index: number) => string,
  concurrency: number,
  timeoutMs = 10_000,
): Promise<void> {
  let next = 0;
  const lanes = Array.from({ length: Math.min(concurrency, items.length) }, async () => {
    for (;;) {
      const i = next++;
      if (i >= items.length) return;
      const item = items[i]!;
      await deliver(item, target(item, i), timeoutMs);
    }
  });
  await Promise.all(lanes);
}

/** What a gateway does: delivers again every message not yet acknowledged, until all are (bounded). */
export async function redeliverUntilAcked(
  items: Inbound[],
  target: () => string,
  opts: { timeoutMs: number; concurrency?: number; guard?: () => void },
): Promise<void> {
  await waitUntil(
    'every webhook to be acknowledged with 200',
    async () => {
      const pending = items.filter((i) => !i.acked);
      if (!pending.length) return true;
      await deliverAll(pending, target, opts.concurrency ?? 10);
      return items.every((i) => i.acked);
    },
    {
      timeoutMs: opts.timeoutMs,
      intervalMs: 500,
      ...(opts.guard ? { guard: opts.guard } : {}),
      detail: () =>
        `not acknowledged: ${items
          .filter((i) => !i.acked)
          .slice(0, 5)
          .map((i) => `${i.phone} ${JSON.stringify(i.attempts)}`)
          .join(', ')}`,
    },
  );
}

/** Sends at the fake gateway grouped by recipient (E.164). */
export function sendsByPhone(sent: readonly FakeWasenderSend[]): Map<string, FakeWasenderSend[]> {
  const map = new Map<string, FakeWasenderSend[]>();
  for (const s of sent) map.set(s.to, [...(map.get(s.to) ?? []), s]);
  return map;
}

// ---------------------------------------------------------------------------------------------------
// What never finished

export const PIPELINE_QUEUES = ['pipeline.reply', 'pipeline.send'];

export interface UnfinishedWork {
  /** pg-boss jobs of the given queues not in a final state (completed, failed, cancelled). */
  jobs: Array<{ id: string; name: string; state: string; retryCount: number; startAfter: Date }>;
  /** Messages still waiting for the gateway (queued) or claimed and never confirmed (pending). */
  messages: Array<{ id: string; status: string; author: string; conversationId: string }>;
  /** Conversations whose newest inbound message no reply job ever dealt with. */
  unanswered: Array<{ conversationId: string; latestInboundAt: Date; handledThrough: Date | null }>;
}

/** The report of work that never finished; empty once the pipeline has settled. */
export async function unfinishedWork(
  sql: postgres.Sql,
  queues: readonly string[] = PIPELINE_QUEUES,
): Promise<UnfinishedWork> {
  const jobs = await sql<UnfinishedWork['jobs']>`
    select id::text, name, state::text, retry_count as "retryCount", start_after as "startAfter"
    from pgboss.job
    where name in ${sql(queues as string[])} and state not in ('completed', 'failed', 'cancelled')
    order by created_on`;
  const messages = await sql<UnfinishedWork['messages']>`
    select id::text, status, author, conversation_id::text as "conversationId"
    from messages where status in ('queued', 'pending')`;
  const unanswered = await sql<UnfinishedWork['unanswered']>`
    select c.id::text as "conversationId", m.latest as "latestInboundAt",
           c.bot_handled_through as "handledThrough"
    from conversations c
    join (select conversation_id, max(created_at) as latest from messages
          where direction = 'inbound' group by conversation_id) m on m.conversation_id = c.id
    where c.bot_handled_through is null or c.bot_handled_through < m.latest`;
  return { jobs: [...jobs], messages: [...messages], unanswered: [...unanswered] };
}

export const isSettled = (w: UnfinishedWork) =>
  w.jobs.length === 0 && w.messages.length === 0 && w.unanswered.length === 0;

export function describeUnfinished(w: UnfinishedWork): string {
  const byState = new Map<string, number>();
  for (const j of w.jobs) byState.set(`${j.name}:${j.state}`, (byState.get(`${j.name}:${j.state}`) ?? 0) + 1);
  return (
    `unfinished jobs ${JSON.stringify(Object.fromEntries(byState))}, ` +
    `messages queued/pending ${w.messages.length}, unanswered conversations ${w.unanswered.length}`
  );
}

/** The jobs behind what is stuck (send jobs of stuck messages, reply jobs of unanswered conversations). */
export async function explainStuck(sql: postgres.Sql, w: UnfinishedWork): Promise<string> {
  const ids = [...w.messages.map((m) => m.id), ...w.unanswered.map((u) => u.conversationId)].slice(0, 20);
  if (!ids.length) return '';
  const rows = await sql<Array<Record<string, unknown>>>`
    select name, state::text, retry_count, retry_limit, data, output, created_on, started_on, completed_on
    from pgboss.job
    where data->>'messageId' in ${sql(ids)} or data->>'conversationId' in ${sql(ids)}
    order by created_on`.catch((e: Error) => [{ error: e.message }]);
  return rows.map((r) => JSON.stringify(r)).join('\n');
}

/** Waits (bounded) until nothing is left unfinished; returns the last report either way. */
export async function waitForSettled(
  sql: postgres.Sql,
  timeoutMs: number,
  opts: { queues?: readonly string[]; guard?: () => void } = {},
): Promise<UnfinishedWork> {
  let last: UnfinishedWork = { jobs: [], messages: [], unanswered: [] };
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    opts.guard?.();
    last = await unfinishedWork(sql, opts.queues ?? PIPELINE_QUEUES).catch(() => last);
    // The caller asserts on the report, which says what is stuck.
    if (isSettled(last) || Date.now() > deadline) return last;
    await sleep(500);
  }
}

/** Every outbound message, with its conversation's phone, for per-customer assertions. */
export async function outboundByPhone(sql: postgres.Sql) {
  const rows = await sql<Array<{ phone: string; status: string; error: string | null; body: string | null }>>`
    select ct.phone, m.status, m.error, m.body
    from messages m
    join conversations c on c.id = m.conversation_id
    join contacts ct on ct.id = c.contact_id
    where m.direction = 'outbound'
    order by m.created_at`;
  const map = new Map<string, typeof rows>();
  for (const r of rows) map.set(r.phone, [...(map.get(r.phone) ?? []), r] as typeof rows);
  return map;
}

/** Open handoff tasks by the phone of their conversation. */
export async function handoffTasksByPhone(sql: postgres.Sql) {
  const rows = await sql<Array<{ phone: string; title: string }>>`
    select ct.phone, t.title from tasks t
    join conversations c on c.id = t.conversation_id
    join contacts ct on ct.id = c.contact_id
    where t.type = 'handoff'`;
  const map = new Map<string, string[]>();
  for (const r of rows) map.set(r.phone, [...(map.get(r.phone) ?? []), r.title]);
  return map;
}

// ---------------------------------------------------------------------------------------------------
// Keys

/** Creates an API key directly in the database at `url` (as `npm run key:create` would). */
export async function createApiKeyOn(url: string, role: 'admin' | 'agent' = 'agent'): Promise<string> {
  const client = postgres(url, { max: 1, onnotice: () => {} });
  try {
    const auth = createAuthService({ db: drizzle({ client, schema, casing: 'snake_case' }) });
    return (await auth.createKey({ name: `reliability ${role}`, role })).key;
  } finally {
    await client.end();
  }
}

// ---------------------------------------------------------------------------------------------------
// A private Postgres cluster

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** The folder of Postgres's server binaries (initdb, pg_ctl): PG_BIN, else the newest Debian install. */
export function postgresBinDir(): string | null {
  if (process.env.PG_BIN && existsSync(path.join(process.env.PG_BIN, 'initdb'))) return process.env.PG_BIN;
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return null;
  const versions = readdirSync(root)
    .filter((v) => existsSync(path.join(root, v, 'bin', 'initdb')))
    .sort((a, b) => Number(b) - Number(a));
  return versions[0] ? path.join(root, versions[0], 'bin') : null;
}

export interface PrivatePostgres {
  /** URL of the cluster's `postgres` database, over TCP on 127.0.0.1. */
  url: string;
  port: number;
  start(): Promise<void>;
  /** `pg_ctl stop -m immediate`: every backend dies at once, as in a crash of the database server. */
  crash(): Promise<void>;
  log(): Promise<string>;
  /** Stops the cluster and removes its folder. */
  destroy(): Promise<void>;
}

/**
 * A throwaway Postgres cluster in a temporary folder, owned by the `postgres` OS user when running as
 * root (initdb refuses root), with trust authentication on 127.0.0.1 and a port of its own. Tests
 * may stop and restart it without disturbing the shared server other test files use.
 */
export async function startPrivatePostgres(): Promise<PrivatePostgres> {
  const bin = postgresBinDir();
  if (!bin) throw new Error('Postgres server binaries (initdb, pg_ctl) not found; set PG_BIN');
  const dir = await mkdtemp(path.join(os.tmpdir(), 'wcb-pg-'));
  const data = path.join(dir, 'data');
  const logFile = path.join(dir, 'server.log');
  const asRoot = process.getuid?.() === 0;
  const as = async (cmd: string, args: string[]) => {
    const file = path.join(bin, cmd);
    const [exe, argv] = asRoot ? ['runuser', ['-u', 'postgres', '--', file, ...args]] : [file, args];
    return run(exe, argv, { timeout: 60_000 });
  };
  if (asRoot) {
    await run('chown', ['postgres:postgres', dir]);
    await chmod(dir, 0o700);
  }
  const port = await freePort();
  await as('initdb', ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-sync']);
  const conf = [
    `port = ${port}`,
    `listen_addresses = '127.0.0.1'`,
    `unix_socket_directories = '${dir}'`,
    'max_connections = 60',
    // Only the server process is ever killed, never the OS: skipping fsync loses nothing here, but a
    // commit must be in the WAL before it is acknowledged (synchronous_commit stays on).
    'fsync = off',
    'full_page_writes = off',
    'shared_buffers = 32MB',
    '',
  ].join('\n');
  const confFile = path.join(data, 'postgresql.auto.conf');
  if (asRoot) {
    await writeFile(path.join(dir, 'extra.conf'), conf);
    await run('runuser', ['-u', 'postgres', '--', 'cp', path.join(dir, 'extra.conf'), confFile]);
  } else {
    await writeFile(confFile, conf);
  }
  let running = false;
  // If the test process ends without its cleanup (a crash, an uncaught error), stop the cluster anyway.
  const stopOnExit = () => {
    if (!running) return;
    const file = path.join(bin, 'pg_ctl');
    const args = ['-D', data, '-m', 'immediate', 'stop'];
    try {
      if (asRoot) execFileSync('runuser', ['-u', 'postgres', '--', file, ...args], { stdio: 'ignore' });
      else execFileSync(file, args, { stdio: 'ignore' });
    } catch {
      // Already stopped.
    }
  };
  process.once('exit', stopOnExit);
  const cluster: PrivatePostgres = {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    port,
    async start() {
      await as('pg_ctl', ['-D', data, '-l', logFile, '-w', '-t', '60', 'start']);
      running = true;
    },
    async crash() {
      await as('pg_ctl', ['-D', data, '-m', 'immediate', '-w', '-t', '60', 'stop']);
      running = false;
    },
    async log() {
      const { stdout } = await run('tail', ['-n', '50', logFile]).catch(() => ({ stdout: '' }));
      return stdout;
    },
    async destroy() {
      process.off('exit', stopOnExit);
      if (running) await cluster.crash().catch(() => {});
      await rm(dir, { recursive: true, force: true });
    },
  };
  await cluster.start();
  return cluster;
}

// ---------------------------------------------------------------------------------------------------
// Server settings

/** Environment for a server process wired to the fakes, with quick timeouts and a fast throttle. */
export function serverEnv(p: {
  databaseUrl: string;
  openai: { url: string; apiKey: string };
  wasender: { url: string; token: string };
  extra?: Record<string, string>;
}): Record<string, string> {
  return {
    NODE_ENV: 'test',
    DATABASE_URL: p.databaseUrl,
    WASENDER_WEBHOOK_SECRET: WEBHOOK_SECRET,
    OPENAI_API_KEY: p.openai.apiKey,
    OPENAI_BASE_URL: p.openai.url,
    WASENDER_API_TOKEN: p.wasender.token,
    WASENDER_BASE_URL: p.wasender.url,
    REPLY_QUIET_MS: '0',
    SEND_RATE_PER_MINUTE: '6000',
    OPENAI_TIMEOUT_MS: '3000',
    WASENDER_TIMEOUT_MS: '3000',
    REPLY_JOB_TIMEOUT_SECONDS: '10',
    SEND_JOB_TIMEOUT_SECONDS: '8',
    JOB_MAINTENANCE_SECONDS: '1',
    WEBHOOK_RATE_LIMIT_PER_MINUTE: '0',
    RATE_LIMIT_PER_MINUTE: '0',
    ...p.extra,
  };
}

/**
 * What a test of server processes starts from: a scratch database, the fake OpenAI and WaSender, and
 * the servers' environment wired to them (`serverEnv`). Each part is undone through `cleanups`.
 */
export async function processFixture(
  baseUrl: string,
  cleanups: Array<() => Promise<unknown>>,
  opts: { openai?: FakeOpenAIOptions; extra?: Record<string, string> } = {},
) {
  const scratch = await createScratchDatabase(baseUrl);
  cleanups.push(() => scratch.drop());
  const openai = await startFakeOpenAI(opts.openai);
  const wasender = await startFakeWasender();
  cleanups.push(
    () => openai.close(),
    () => wasender.close(),
  );
  const env = serverEnv({ databaseUrl: scratch.url, openai, wasender, extra: opts.extra });
  return { scratch, openai, wasender, env };
}

// ---------------------------------------------------------------------------------------------------
// Faults and staff actions against server processes

/**
 * Terminates every connection the server processes hold to the database `sql` is connected to (as a
 * database administrator or a failover would), leaving other databases' connections alone. Returns
 * how many were terminated.
 */
export async function terminateServerBackends(sql: postgres.Sql): Promise<number> {
  // Chosen first, terminated second: in one statement the planner may call pg_terminate_backend
  // before the other conditions have filtered the row.
  const pids = await sql<Array<{ pid: number }>>`
    select pid from pg_stat_activity
    where datname = current_database() and application_name = 'whatsapp-crm-bot'
      and pid <> pg_backend_pid()`;
  if (!pids.length) return 0;
  const killed = await sql<Array<{ pid: number }>>`
    select pid from unnest(${pids.map((p) => p.pid)}::int[]) as pid where pg_terminate_backend(pid)`;
  return killed.length;
}

/** One tRPC mutation over HTTP with an API key; throws with the status and body unless it answered 200. */
export async function trpcMutation<T = unknown>(
  baseUrl: string,
  key: string,
  path: string,
  input: unknown,
  timeoutMs = 10_000,
): Promise<T> {
  const res = await fetch(`${baseUrl}/trpc/${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
    body: JSON.stringify({ json: input }),
    signal: AbortSignal.timeout(timeoutMs),
  });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`${path}: ${res.status} ${text.slice(0, 500)}`);
  return (JSON.parse(text) as { result: { data: { json: T } } }).result.data.json;
}

/** A small seeded random number generator (mulberry32), so a failing fault mix can be replayed. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
