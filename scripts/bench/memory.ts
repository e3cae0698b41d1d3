import { randomBytes } from 'node:crypto';
import postgres from 'postgres';
import superjson from 'superjson';
import { openDatabase } from '../../server/db/client';
import { createAuthService } from '../../server/services/auth';
import { startFakeOpenAI } from '../../tests/fakes/openai-server';
import { startFakeWasender } from '../../tests/fakes/wasender-server';
import { startServerProcess } from '../../tests/helpers/server-process';
import { webhookHeaders } from '../lib/wasender-payloads';
import { httpLoad, rssMiB, type ScenarioResult, scratchDatabase, sleep, summarize, webhookBody } from './lib';

const SECRET = 'bench-memory-secret-0000000';
/**
 * Pass when the mean RSS of the last third of the rounds is at most this multiple of the first third's.
 * --quick's few short rounds end before the heap settles, so there it only catches gross leaks.
 */
const GROWTH_LIMIT = { full: 1.2, quick: 1.5 };

/**
 * Memory: the server runs as its own process (`node --import tsx server/main.ts`, web and workers, on a
 * scratch database, with the fake OpenAI and WaSender so every message gets a bot reply). Each round
 * sends webhooks from a set of customers, waits until the replies have gone out (bounded), then runs
 * tRPC reads (`crm.contacts.get`, `conversations.list`), and samples the process's resident set size
 * (VmRSS) after a short settle. Baseline: the RSS after the first, warm-up round; subject: the RSS
 * after each later round. Pass: the mean RSS over the last third of the rounds ≤ 1.2 × (--quick: 1.5 ×) the mean over
 * the first third after the warm-up, i.e. no steady growth once warm (single samples follow the
 * garbage collector's saw-tooth). The least-squares trend in MiB per round is reported too.
 */
export async function benchMemory(pgUrl: string, quick: boolean): Promise<ScenarioResult> {
  const roundsN = quick ? 5 : 10;
  const limit = quick ? GROWTH_LIMIT.quick : GROWTH_LIMIT.full;
  const webhooksPerRound = quick ? 60 : 600;
  const customers = quick ? 30 : 200;
  const readSeconds = quick ? 0.5 : 3;
  const db = await scratchDatabase(pgUrl);
  const openai = await startFakeOpenAI({ delayMs: 20 });
  const wasender = await startFakeWasender();
  const t0 = Date.now();
  const server = await startServerProcess({
    DATABASE_URL: db.url,
    LOG_LEVEL: 'warn',
    WASENDER_WEBHOOK_SECRET: SECRET,
    OPENAI_API_KEY: openai.apiKey,
    OPENAI_BASE_URL: openai.url,
    WASENDER_API_TOKEN: wasender.token,
    WASENDER_BASE_URL: wasender.url,
    REPLY_QUIET_MS: '0',
    SEND_RATE_PER_MINUTE: '6000',
    RATE_LIMIT_PER_MINUTE: '1000000',
    WEBHOOK_RATE_LIMIT_PER_MINUTE: '1000000',
  }).catch(async (err: unknown) => {
    await Promise.all([openai.close(), wasender.close()]);
    await db.drop();
    throw err;
  });
  const pid = server.child.pid!;
  const startS = (Date.now() - t0) / 1000;
  const sql = postgres(db.url, { max: 2, onnotice: () => {} });
  const notes: string[] = [];
  const rss: number[] = [];
  let failed = 0;
  let undelivered = 0;
  try {
    const keys = await openDatabase({ url: db.url, poolMax: 1, prepare: true, dataDir: 'memory://' });
    const { key } = await createAuthService({ db: keys.db }).createKey({
      name: 'bench memory',
      role: 'agent',
    });
    await keys.close();
    const auth = { authorization: `Bearer ${key}` };
    const rssAtStart = rssMiB(pid);

    let n = 0;
    for (let round = 0; round < roundsN; round++) {
      const sentBefore = wasender.sent.length;
      const r0 = Date.now();
      // Ten senders at a time (plain fetch: autocannon's amount mode ends on its one-second tick).
      let next = 0;
      await Promise.all(
        Array.from({ length: 10 }, async () => {
          while (next < webhooksPerRound) {
            next++;
            n++;
            const phone = `1415557${String(1000 + (n % customers)).padStart(4, '0')}`;
            const res = await fetch(`${server.url}/webhook`, {
              method: 'POST',
              headers: webhookHeaders(SECRET),
              body: webhookBody(phone, `M${randomBytes(10).toString('hex')}`, `question ${n}`, 'Memory'),
              signal: AbortSignal.timeout(10_000),
            }).catch(() => null);
            if (!res?.ok) failed++;
            await res?.arrayBuffer();
          }
        }),
      );

      // Wait until no reply or send job is due (at most 30 s); --quick lets the replies of a round flow
      // during the next one and waits only after the last.
      const deadline = quick && round < roundsN - 1 ? 0 : Date.now() + 30_000;
      for (;;) {
        const [row] = await sql`select count(*)::int as n from pgboss.job
          where name in ('pipeline.reply', 'pipeline.send') and state in ('created', 'retry', 'active')
            and start_after <= now() + interval '2 seconds'`;
        if (row!.n === 0) break;
        if (Date.now() > deadline) {
          if (deadline > 0) undelivered += row!.n;
          break;
        }
        await sleep(100);
      }
      const replies = wasender.sent.length - sentBefore;
      const r1 = Date.now();

      const ids = (await sql`select id from contacts order by created_at limit 200`).map(
        (r) => r.id as string,
      );
      const path = (proc: string, input: unknown) =>
        `/trpc/${proc}?input=${encodeURIComponent(JSON.stringify(superjson.serialize(input)))}`;
      const reads = await httpLoad({
        url: server.url,
        connections: 10,
        durationS: readSeconds,
        headers: auth,
        inProcess: true,
        requests: [
          ...ids.map((id) => ({ method: 'GET' as const, path: path('crm.contacts.get', { id }) })),
          { method: 'GET' as const, path: path('conversations.list', { limit: 25 }) },
        ],
      });
      failed += reads.failed;
      const r2 = Date.now();

      await sleep(quick ? 200 : 1000);
      const now = rssMiB(pid);
      rss.push(now);
      notes.push(
        `round ${round + 1}: RSS ${now.toFixed(1)} MiB after ${webhooksPerRound} webhooks (${replies} replies sent) ` +
          `and ${reads.total} reads (${Math.round(reads.requestsPerSecond)} req/s); ` +
          `${((r1 - r0) / 1000).toFixed(1)} s to the last reply, ${((r2 - r1) / 1000).toFixed(1)} s of reads`,
      );
    }
    notes.unshift(
      `server process started in ${startS.toFixed(1)} s; RSS after start, before any load: ${rssAtStart.toFixed(1)} MiB`,
    );
  } finally {
    await sql.end();
    const code = await server.stop();
    if (code !== 0 && code !== null) notes.push(`server exited with ${code}`);
    await openai.close();
    await wasender.close();
    await db.drop();
  }
  // RSS follows the garbage collector's saw-tooth, so single rounds are compared in groups: the mean of
  // the first third of the rounds after the warm-up against the mean of the last third.
  const after = rss.slice(1);
  const k = Math.max(1, Math.floor(after.length / 3));
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const early = mean(after.slice(0, k));
  const late = mean(after.slice(-k));
  const growth = late / early;
  // Least-squares slope over the rounds after the warm-up, in MiB per round.
  const xm = (after.length - 1) / 2;
  const ym = mean(after);
  const slope =
    after.reduce((a, y, i) => a + (i - xm) * (y - ym), 0) /
    Math.max(
      1,
      after.reduce((a, _y, i) => a + (i - xm) ** 2, 0),
    );
  notes.push(
    `RSS after warm-up ${rss[0]!.toFixed(1)} MiB, after the last round ${rss.at(-1)!.toFixed(1)} MiB, ` +
      `max ${Math.max(...rss).toFixed(1)} MiB; mean of rounds 2–${k + 1} ${early.toFixed(1)} MiB, of the last ${k} ` +
      `${late.toFixed(1)} MiB (×${growth.toFixed(2)}); trend ${slope >= 0 ? '+' : ''}${slope.toFixed(1)} MiB per round`,
  );
  notes.push(`failed requests: ${failed}; reply or send jobs still due after the wait: ${undelivered}`);
  return summarize('memory (server RSS)', {
    metric: `resident set size of the server process after each of ${roundsN} rounds of webhooks and tRPC reads, relative to the RSS after the warm-up round`,
    unit: 'MiB',
    target: `mean RSS of the last third of the rounds ≤ ${limit} × that of the first third after warm-up`,
    rounds: rss.slice(1).map((subject) => ({ baseline: rss[0]!, subject })),
    pass: () => growth <= limit && failed === 0,
    notes,
  });
}
