import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import autocannon from 'autocannon';
import postgres from 'postgres';
import { buildApp } from '../../server/app';
import { loadConfig } from '../../server/config';
import { createLogger } from '../../server/log';
import { loadPersona } from '../../server/persona';
import { createRuntime } from '../../server/runtime';
import { textWebhookJson } from '../lib/wasender-payloads';

/** One scenario's result: the subject against a baseline measured alternately in the same run. */
export interface ScenarioResult {
  name: string;
  metric: string;
  unit: string;
  /** What the ratio must stay under (or over, when `higherIsBetter`). */
  target: string;
  higherIsBetter?: boolean;
  rounds: Array<{ baseline: number; subject: number; ratio: number }>;
  ratio: { median: number; min: number; max: number };
  pass: boolean;
  notes: string[];
  /** Which kind of run produced it (set by scripts/bench.ts; a partial run keeps earlier rows). */
  mode?: 'quick' | 'full';
  date?: string;
  /** An extra table for the Markdown report (e.g. the dashboard's growth from the small to the large data set). */
  table?: { title: string; header: string[]; rows: string[][] };
}

export function summarize(
  name: string,
  p: {
    metric: string;
    unit: string;
    target: string;
    rounds: Array<{ baseline: number; subject: number }>;
    pass: (median: number, rounds: Array<{ baseline: number; subject: number; ratio: number }>) => boolean;
    higherIsBetter?: boolean;
    notes?: string[];
    table?: ScenarioResult['table'];
  },
): ScenarioResult {
  const rounds = p.rounds.map((r) => ({ ...r, ratio: r.baseline > 0 ? r.subject / r.baseline : Number.NaN }));
  const ratios = rounds.map((r) => r.ratio).sort((a, b) => a - b);
  const median = ratios[Math.floor(ratios.length / 2)] ?? Number.NaN;
  return {
    name,
    metric: p.metric,
    unit: p.unit,
    target: p.target,
    higherIsBetter: p.higherIsBetter,
    rounds,
    ratio: { median, min: ratios[0] ?? Number.NaN, max: ratios.at(-1) ?? Number.NaN },
    pass: p.pass(median, rounds),
    notes: p.notes ?? [],
    ...(p.table ? { table: p.table } : {}),
  };
}

export function percentile(values: number[], p: number): number {
  if (!values.length) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const idx = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[idx]!;
}

export function machine() {
  return {
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model ?? 'unknown',
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    node: process.version,
    platform: `${os.type()} ${os.release()}`,
    /** 1, 5 and 15 minute load averages when this was called (other work on the machine shows here). */
    loadAverage: os.loadavg().map((x) => Math.round(x * 100) / 100),
  };
}

/** The server version of the benchmark's Postgres, e.g. "15.20 (Debian 15.20-0+deb12u1)". */
export async function postgresVersion(url: string): Promise<string> {
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  try {
    const [row] = await sql`select current_setting('server_version') as v`;
    return String(row?.v ?? 'unknown');
  } finally {
    await sql.end();
  }
}

/** Resident set size of a process in MiB, from /proc/<pid>/status (Linux). */
export function rssMiB(pid: number): number {
  const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`no VmRSS for process ${pid}`);
  return Number(m[1]) / 1024;
}

export interface LoadResult {
  requestsPerSecond: number;
  p50: number;
  p99: number;
  total: number;
  /** Non-2xx responses, errors and timeouts. */
  failed: number;
}

/**
 * One child process running autocannon for every `httpLoad` of this process: the load generator does
 * not share the CPU thread of a server under test in this process, and is started only once.
 */
const LOAD_PROCESS = `
const autocannon = require(process.argv[1]);
process.on('disconnect', () => process.exit(0));
process.on('message', (opts) => {
  autocannon(opts, (err, r) => {
    if (err) return process.send({ error: String((err && err.message) || err) });
    process.send({ result: {
      total: r.requests.total, duration: r.duration, p50: r.latency.p50, p99: r.latency.p99,
      failed: r.non2xx + r.errors + r.timeouts } });
  });
});`;
let loadProcess: ChildProcess | null = null;
let loadQueue: Promise<unknown> = Promise.resolve();

type LoadMessage = {
  error?: string;
  result?: { total: number; duration: number; p50: number; p99: number; failed: number };
};

function inLoadProcess(opts: autocannon.Options): Promise<LoadResult> {
  if (!loadProcess || loadProcess.exitCode !== null) {
    const autocannonPath = createRequire(import.meta.url).resolve('autocannon');
    loadProcess = spawn(process.execPath, ['-e', LOAD_PROCESS, autocannonPath], {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    loadProcess.unref();
    loadProcess.channel?.unref();
  }
  const child = loadProcess;
  const job = loadQueue.then(
    () =>
      new Promise<LoadResult>((resolve, reject) => {
        const onExit = (code: number | null) => reject(new Error(`load process exited (${code})`));
        child.once('exit', onExit);
        child.channel?.ref();
        child.once('message', (msg: LoadMessage) => {
          child.off('exit', onExit);
          child.channel?.unref();
          if (msg.error || !msg.result) return reject(new Error(`load process: ${msg.error}`));
          const r = msg.result;
          resolve({
            requestsPerSecond: r.total / (r.duration || 1),
            p50: r.p50,
            p99: r.p99,
            total: r.total,
            failed: r.failed,
          });
        });
        child.send(opts);
      }),
  );
  loadQueue = job.catch(() => {});
  return job;
}

/**
 * HTTP load with autocannon in a child process (unless `inProcess`), so the load generator does not
 * share the CPU thread of a server running in this process. `requests` are plain objects (each
 * connection walks through them in turn); the run is bounded by `durationS` or `amount`, whichever is
 * given, and a per-request timeout.
 */
export async function httpLoad(p: {
  url: string;
  connections: number;
  durationS?: number;
  amount?: number;
  /** Fixed offered rate over all connections (requests per second); unset: as fast as answered. */
  overallRate?: number;
  headers?: Record<string, string>;
  requests?: Array<{
    method?: 'GET' | 'POST';
    path?: string;
    body?: string;
    headers?: Record<string, string>;
  }>;
  /** Generate the load on this thread (when the server under test is another process). */
  inProcess?: boolean;
  /** Replace each `[<id>]` in a request body with a fresh unique id, request by request. */
  idReplacement?: boolean;
}): Promise<LoadResult> {
  const opts = {
    url: p.url,
    connections: p.connections,
    ...(p.amount ? { amount: p.amount } : { duration: p.durationS ?? 1 }),
    ...(p.overallRate ? { overallRate: p.overallRate } : {}),
    headers: p.headers,
    requests: p.requests as autocannon.Request[] | undefined,
    ...(p.idReplacement ? { idReplacement: true } : {}),
    timeout: 10,
    // Check for the end every 100 ms (the default of 1 s would round every run up to whole seconds).
    sampleInt: 100,
  } as autocannon.Options;
  if (!p.inProcess) return inLoadProcess(opts);
  const result = await autocannon(opts);
  return {
    requestsPerSecond: result.requests.total / (result.duration || 1),
    p50: result.latency.p50,
    p99: result.latency.p99,
    total: result.requests.total,
    failed: result.non2xx + result.errors + result.timeouts,
  };
}

/** A throwaway database on the benchmark's Postgres server. */
export async function scratchDatabase(baseUrl: string) {
  const name = `wcb_bench_${randomBytes(4).toString('hex')}`;
  const admin = postgres(baseUrl, { max: 1, onnotice: () => {} });
  await admin.unsafe(`create database ${name}`);
  await admin.end();
  const u = new URL(baseUrl);
  u.pathname = `/${name}`;
  return {
    url: u.toString(),
    async drop() {
      const a = postgres(baseUrl, { max: 1, onnotice: () => {} });
      await a.unsafe(`drop database if exists ${name} with (force)`);
      await a.end();
    },
  };
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A WaSender `messages.upsert` webhook body (as a string) with one customer's text message. */
export function webhookBody(phone: string, providerId: string, text: string, pushName = 'Bench') {
  return textWebhookJson({ phone, id: providerId, text, pushName });
}

/**
 * The real server (runtime and Fastify app) on a scratch database, listening on 127.0.0.1, for the
 * scenarios that measure it in this process. `env` adds to quiet defaults; `close` undoes everything,
 * the database included.
 */
export async function startBenchServer(
  pgUrl: string,
  env: Record<string, string>,
  opts: { workers: boolean },
) {
  const db = await scratchDatabase(pgUrl);
  const config = loadConfig({
    DATABASE_URL: db.url,
    LOG_LEVEL: 'silent',
    BOOTSTRAP_ADMIN_KEY: 'false',
    ...env,
  });
  const log = createLogger({ logLevel: 'silent' });
  const runtime = await createRuntime({
    config,
    persona: loadPersona(config.personaPath),
    log,
    workers: opts.workers,
  }).catch(async (err: unknown) => {
    await db.drop();
    throw err;
  });
  const app = await buildApp({ runtime, logger: log });
  await app.listen({ host: '127.0.0.1', port: 0 });
  return {
    db,
    config,
    runtime,
    app,
    url: `http://127.0.0.1:${(app.server.address() as { port: number }).port}`,
    async close() {
      await app.close();
      await runtime.close();
      await db.drop();
    },
  };
}

/** The real server on a fresh embedded database (PGlite) in a temporary folder, in this process. */
export async function startEmbeddedBenchServer(env: Record<string, string>, opts: { workers: boolean }) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'wcb-bench-'));
  const config = loadConfig({ DATA_DIR: dir, LOG_LEVEL: 'silent', BOOTSTRAP_ADMIN_KEY: 'false', ...env });
  const log = createLogger({ logLevel: 'silent' });
  const runtime = await createRuntime({
    config,
    persona: loadPersona(config.personaPath),
    log,
    workers: opts.workers,
  });
  const app = await buildApp({ runtime, logger: log });
  await app.listen({ host: '127.0.0.1', port: 0 });
  return {
    runtime,
    url: `http://127.0.0.1:${(app.server.address() as { port: number }).port}`,
    async close() {
      await app.close();
      await runtime.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
