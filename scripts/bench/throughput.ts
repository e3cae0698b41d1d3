import { spawn } from 'node:child_process';
import { startFakeOpenAI } from '../../tests/fakes/openai-server';
import { startFakeWasender } from '../../tests/fakes/wasender-server';
import { WEBHOOK_SECRET } from '../../tests/helpers/pipeline';
import { deliverAll, inboundBurst, processFixture } from '../../tests/helpers/reliability';
import { type ServerProcess, startServerProcess } from '../../tests/helpers/server-process';
import { webhookHeaders } from '../lib/wasender-payloads';
import {
  httpLoad,
  type ScenarioResult,
  sleep,
  startBenchServer,
  startEmbeddedBenchServer,
  summarize,
  webhookBody,
} from './lib';

const MODEL_MS = 20;
/** A gateway that allows 200 sends a second (above the 100 a second SEND_RATE_PER_MINUTE used to stop at). */
const SEND_RATE_PER_MINUTE = 12_000;
const REPLY_CONCURRENCY = 32;
const CUSTOMERS = 300;
/** Customers of the unjudged first burst after the processes start. */
const WARMUP_CUSTOMERS = 100;

type Mode = { key: string; label: string; roles: Array<'all' | 'web' | 'worker'> };
const MODES: Mode[] = [
  { key: 'one', label: 'one process', roles: ['all'] },
  { key: 'split', label: 'web + worker', roles: ['web', 'worker'] },
  { key: 'two', label: 'two processes', roles: ['all', 'all'] },
];

/**
 * Replies per second under a backlog: 300 customers write one message each, at once, to server
 * processes on one Postgres, with a 20 ms model and a gateway allowing 200 sends a second, after an
 * unjudged warm-up burst of 100 customers (statements prepared, code compiled). Judged on
 * the drain of the stored backlog: replies after the last webhook was acknowledged, over the time from
 * then to the 300th reply at the fake gateway. Also reported: from the first webhook to the 300th reply,
 * which includes storing the webhooks. Target from the same run's settings: 0.8 × min(send rate,
 * reply concurrency × worker processes / model latency).
 */
export async function benchThroughput(pgUrl: string, quick: boolean): Promise<ScenarioResult[]> {
  const roundsN = quick ? 1 : 3;
  const out: ScenarioResult[] = [];
  for (const mode of MODES) {
    const cleanups: Array<() => Promise<unknown>> = [];
    const rounds: Array<{ baseline: number; subject: number }> = [];
    const drainRates: number[] = [];
    const overallRates: number[] = [];
    const notes: string[] = [];
    try {
      const { wasender, env } = await processFixture(pgUrl, cleanups, {
        openai: { delayMs: MODEL_MS },
        extra: {
          LOG_LEVEL: 'warn',
          SEND_RATE_PER_MINUTE: String(SEND_RATE_PER_MINUTE),
          REPLY_CONCURRENCY: String(REPLY_CONCURRENCY),
          REPLY_JOB_TIMEOUT_SECONDS: '60',
          SEND_JOB_TIMEOUT_SECONDS: '60',
          JOB_MAINTENANCE_SECONDS: '15',
        },
      });
      // One after the other: the first applies the migrations.
      const procs: Array<Pick<ServerProcess, 'url' | 'stop'>> = [];
      for (const role of mode.roles) {
        const p =
          role === 'worker'
            ? await startWorkerProcess({ ...env, PROCESS_ROLE: role })
            : await startServerProcess({ ...env, PROCESS_ROLE: role });
        cleanups.push(() => p.stop());
        procs.push(p);
      }
      const webs = procs.filter((_, i) => mode.roles[i] !== 'worker');
      const workers = mode.roles.filter((r) => r !== 'web').length;
      const ideal = idealOf(mode);
      // A first, unjudged burst: each connection prepares its statements once and the code paths are
      // compiled, as in a server that has been running. The judged rounds measure that steady state.
      const warm = inboundBurst(WARMUP_CUSTOMERS, String(290 + MODES.indexOf(mode)), 'warm');
      const warmBefore = wasender.sent.length;
      await deliverAll(warm, (_, i) => webs[i % webs.length]!.url, 20);
      await waitForReplies(wasender, warmBefore, WARMUP_CUSTOMERS, `${mode.label} (warm-up)`);
      for (let r = 0; r < roundsN; r++) {
        const burst = inboundBurst(CUSTOMERS, String(300 + r * 10 + MODES.indexOf(mode)), `tp${r}`);
        const phones = new Set(burst.map((b) => `+${b.phone}`));
        const before = wasender.sent.length;
        const t0 = Date.now();
        await deliverAll(burst, (_, i) => webs[i % webs.length]!.url, 20);
        const acked = Date.now();
        await waitForReplies(wasender, before, phones.size, mode.label);
        const times = wasender.sent.slice(before).map((s) => s.at);
        const last = Math.max(...times);
        // With ingestion: from the first webhook to the last reply (the webhooks take part of it).
        const overall = (CUSTOMERS * 1000) / Math.max(1, last - t0);
        // The drain of the stored backlog: replies after the last webhook was acknowledged, over the
        // time from then to the last reply.
        const atAck = times.filter((t) => t <= acked).length;
        const drain = ((times.length - atAck) * 1000) / Math.max(1, last - acked);
        rounds.push({ baseline: ideal, subject: drain });
        drainRates.push(drain);
        overallRates.push(overall);
        notes.push(
          `round ${r + 1}: drain ${drain.toFixed(1)} replies/s (${times.length - atAck} replies in the ` +
            `${last - acked} ms after the last webhook was acknowledged); with ingestion ${overall.toFixed(1)} ` +
            `replies/s (webhooks acknowledged in ${acked - t0} ms with ${atAck} replies sent by then, last ` +
            `reply ${last - t0} ms after the first webhook); target ≥ ${(0.8 * ideal).toFixed(0)}/s`,
        );
      }
      notes.push(
        `${mode.roles.join(' + ')}; model ${MODEL_MS} ms, REPLY_CONCURRENCY ${REPLY_CONCURRENCY} per worker process, ` +
          `SEND_RATE_PER_MINUTE ${SEND_RATE_PER_MINUTE}: ideal min(${SEND_RATE_PER_MINUTE / 60}, ` +
          `${(REPLY_CONCURRENCY * workers * 1000) / MODEL_MS}) = ${ideal}/s`,
      );
    } catch (err) {
      notes.push(`error: ${err instanceof Error ? err.message : String(err)}`.slice(0, 400));
    } finally {
      for (const c of cleanups.reverse()) await c().catch(() => {});
    }
    out.push(
      summarize(`backlog throughput, ${mode.label}`, {
        metric:
          `replies/s draining a stored backlog of ${CUSTOMERS} one-message customers (after the last webhook ` +
          `is acknowledged), / min(send rate, concurrency / model latency)`,
        unit: 'replies/s',
        target: 'ratio ≥ 0.8',
        higherIsBetter: true,
        rounds,
        pass: (median) => rounds.length > 0 && median >= 0.8,
        notes,
        table: {
          title: `Replies per second, ${mode.label}`,
          header: ['measure', 'replies/s', 'target'],
          rows: [
            [
              'drain of the stored backlog (judged)',
              fmtRates(drainRates),
              `≥ ${(0.8 * idealOf(mode)).toFixed(0)}`,
            ],
            ['first webhook to last reply (with ingestion)', fmtRates(overallRates), '(reported)'],
          ],
        },
      }),
    );
  }
  out.push(await benchAckRate(pgUrl, quick));
  return out;
}

/** Waits until `count` customers got a reply at the fake gateway since `before` sends. */
async function waitForReplies(
  wasender: { sent: ReadonlyArray<{ to: string }> },
  before: number,
  count: number,
  label: string,
) {
  const deadline = Date.now() + 120_000;
  for (;;) {
    const got = new Set(wasender.sent.slice(before).map((s) => s.to)).size;
    if (got >= count) return;
    if (Date.now() > deadline) throw new Error(`${label}: ${got} of ${count} replies after 120 s`);
    await sleep(20);
  }
}

function idealOf(mode: Mode) {
  const workers = mode.roles.filter((r) => r !== 'web').length;
  return Math.min(SEND_RATE_PER_MINUTE / 60, (REPLY_CONCURRENCY * workers * 1000) / MODEL_MS);
}

function fmtRates(xs: number[]) {
  return xs.length ? xs.map((x) => x.toFixed(1)).join(', ') : '–';
}

/**
 * Webhook acknowledgements per second at 50 concurrent senders, the embedded database against
 * Postgres, with no reply work (web role) and while replies flow (workers answering every message
 * with the fake model and gateway). Reported, not judged: the embedded database runs every statement
 * on one connection in this process.
 */
async function benchAckRate(pgUrl: string, quick: boolean): Promise<ScenarioResult> {
  const perRound = quick ? 400 : 2000;
  const roundsN = quick ? 2 : 3;
  const openai = await startFakeOpenAI({ delayMs: MODEL_MS });
  const wasender = await startFakeWasender();
  const env = {
    WASENDER_WEBHOOK_SECRET: WEBHOOK_SECRET,
    OPENAI_API_KEY: openai.apiKey,
    OPENAI_BASE_URL: openai.url,
    WASENDER_API_TOKEN: wasender.token,
    WASENDER_BASE_URL: wasender.url,
    REPLY_QUIET_MS: '0',
    SEND_RATE_PER_MINUTE: String(SEND_RATE_PER_MINUTE),
    WEBHOOK_RATE_LIMIT_PER_MINUTE: '0',
  };
  const rounds: Array<{ baseline: number; subject: number }> = [];
  const notes: string[] = [];
  const table: string[][] = [];
  let n = 0;
  try {
    for (const flowing of [false, true]) {
      const perMode: Record<string, number[]> = { postgres: [], embedded: [] };
      for (let r = 0; r < roundsN; r++) {
        for (const db of ['postgres', 'embedded'] as const) {
          const server =
            db === 'postgres'
              ? await startBenchServer(pgUrl, env, { workers: flowing })
              : await startEmbeddedBenchServer(env, { workers: flowing });
          try {
            const tag = `A${++n}`;
            const load = await httpLoad({
              url: `${server.url}/webhook`,
              connections: 50,
              amount: perRound,
              headers: webhookHeaders(WEBHOOK_SECRET),
              requests: Array.from({ length: 300 }, (_, i) => ({
                method: 'POST' as const,
                body: webhookBody(`1416555${String(1000 + i).padStart(4, '0')}`, `${tag}-[<id>]`, `hi ${i}`),
              })),
              idReplacement: true,
            });
            if (load.failed) notes.push(`${db}${flowing ? ' (replies flowing)' : ''}: ${load.failed} failed`);
            perMode[db]!.push(load.requestsPerSecond);
          } finally {
            await server.close();
          }
        }
      }
      const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;
      const pg = median(perMode.postgres!);
      const em = median(perMode.embedded!);
      rounds.push({ baseline: pg, subject: em });
      table.push([
        flowing ? 'while replies flow' : 'idle (no workers)',
        pg.toFixed(0),
        em.toFixed(0),
        (em / pg).toFixed(2),
      ]);
    }
  } finally {
    await openai.close();
    await wasender.close();
  }
  notes.push(
    `idle: embedded ${table[0]?.[3] ?? '?'}× Postgres; while replies flow: embedded ${table[1]?.[3] ?? '?'}× Postgres`,
  );
  return summarize('webhook ack rate, embedded vs Postgres', {
    metric: 'webhooks acknowledged per second at 50 senders, embedded / Postgres (median of rounds)',
    unit: 'req/s',
    target: 'reported (idle and while replies flow)',
    higherIsBetter: true,
    rounds,
    pass: () => rounds.length === 2,
    notes,
    table: {
      title: 'Webhook acknowledgements per second',
      header: ['mode', 'Postgres', 'embedded', 'embedded / Postgres'],
      rows: table,
    },
  });
}

/** A `PROCESS_ROLE=worker` server (no HTTP host): started once it logs that its workers run. */
async function startWorkerProcess(env: Record<string, string>) {
  const child = spawn(process.execPath, ['--import', 'tsx', 'server/main.ts'], {
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      BOOTSTRAP_ADMIN_KEY: 'false',
      ...env,
      LOG_LEVEL: 'info',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout?.on('data', (d) => {
    out = (out + d).slice(-20_000);
  });
  child.stderr?.on('data', (d) => {
    out = (out + d).slice(-20_000);
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const deadline = Date.now() + 60_000;
  while (!out.includes('worker started')) {
    if (child.exitCode !== null) throw new Error(`worker exited early:\n${out}`);
    if (Date.now() > deadline) throw new Error(`worker did not start:\n${out}`);
    await sleep(200);
  }
  return {
    url: '',
    async stop() {
      child.kill('SIGTERM');
      return exited;
    },
  };
}
