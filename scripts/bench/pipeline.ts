import { randomBytes } from 'node:crypto';
import Fastify from 'fastify';
import postgres from 'postgres';
import type { Runtime } from '../../server/runtime';
import { systemCaller } from '../../server/services/caller';
import { knowledgeResponder, startFakeOpenAI } from '../../tests/fakes/openai-server';
import { startFakeWasender } from '../../tests/fakes/wasender-server';
import { SIGNATURE_HEADER, webhookHeaders } from '../lib/wasender-payloads';
import {
  httpLoad,
  percentile,
  type ScenarioResult,
  sleep,
  startBenchServer,
  startEmbeddedBenchServer,
  summarize,
  webhookBody,
} from './lib';

const SECRET = 'bench-webhook-secret-000000';

/** Bodies for a few hundred customers, so contacts and conversations are shared as in real traffic. */
const CUSTOMERS = 400;
function loadRequests(tag: string) {
  return Array.from({ length: CUSTOMERS }, (_, i) => ({
    method: 'POST' as const,
    // autocannon puts a fresh id in place of [<id>] for every request.
    body: webhookBody(`1415555${String(1000 + i).padStart(4, '0')}`, `${tag}-[<id>]`, `message ${i}`),
  }));
}

/** `requests` webhooks from 50 (or `connections`) senders, generated in the load process. */
function runLoad(
  url: string,
  requests: number,
  connections: number,
  headers: Record<string, string>,
  tag: string,
) {
  return httpLoad({
    url,
    connections,
    amount: requests,
    headers: { 'content-type': 'application/json', ...headers },
    requests: loadRequests(tag),
    idReplacement: true,
  });
}

/**
 * Webhook acknowledgement at 50 concurrent senders: our /webhook (verify, parse, one transaction with
 * contact, conversation, message, event and reply job) against a plain Fastify route doing one raw
 * INSERT, alternating, on the same Postgres. Counts lost and duplicated messages.
 */
export async function benchWebhook(pgUrl: string, quick: boolean): Promise<ScenarioResult> {
  const server = await startBenchServer(
    pgUrl,
    {
      WASENDER_WEBHOOK_SECRET: SECRET,
      DATABASE_POOL_MAX: '10',
      // The per-IP limit stays on (its hook is part of the measured path) but above the offered load.
      WEBHOOK_RATE_LIMIT_PER_MINUTE: '1000000',
    },
    { workers: false },
  );
  const { db } = server;
  const subjectUrl = `${server.url}/webhook`;

  const sql = postgres(db.url, { max: 10, onnotice: () => {} });
  await sql`create table bench_baseline (id bigserial primary key, provider_id text unique not null, body jsonb not null, created_at timestamptz default now())`;
  const plain = Fastify();
  plain.post('/baseline', async (req) => {
    const body = req.body as { data: { messages: { key: { id: string } } } };
    await sql`insert into bench_baseline (provider_id, body) values (${body.data.messages.key.id}, ${sql.json(body as never)}) on conflict do nothing`;
    return { ok: true };
  });
  await plain.listen({ host: '127.0.0.1', port: 0 });
  const baselineUrl = `http://127.0.0.1:${(plain.server.address() as { port: number }).port}/baseline`;

  const rounds: Array<{ baseline: number; subject: number }> = [];
  const notes: string[] = [];
  const perRound = quick ? 400 : 2000;
  const roundsN = 5;
  let lost = 0;
  let duplicated = 0;
  let errors = 0;
  try {
    // Warm up both paths.
    await runLoad(baselineUrl, 200, 10, {}, 'warm');
    await runLoad(subjectUrl, 200, 10, { [SIGNATURE_HEADER]: SECRET }, 'warm');
    for (let i = 0; i < roundsN; i++) {
      const tag = `R${i + 1}`;
      const base = await runLoad(baselineUrl, perRound, 50, {}, tag);
      const subj = await runLoad(subjectUrl, perRound, 50, { [SIGNATURE_HEADER]: SECRET }, tag);
      errors += base.failed + subj.failed;
      // Every acknowledged webhook carried a new message: each must be stored once, with one reply job.
      const [stored] =
        await sql`select count(*)::int as n from messages where provider_message_id like ${`${tag}-%`}`;
      const [jobs] =
        await sql`select count(*)::int as n from pgboss.job j join messages m on m.id::text = j.data->>'messageId'
        where j.name = 'pipeline.reply' and m.provider_message_id like ${`${tag}-%`}`;
      lost += subj.total - subj.failed - stored!.n;
      duplicated += Math.max(0, jobs!.n - stored!.n);
      rounds.push({ baseline: base.p99, subject: subj.p99 });
      notes.push(
        `round ${i + 1}: baseline p99 ${base.p99} ms (${Math.round(base.requestsPerSecond)} req/s), ` +
          `webhook p99 ${subj.p99} ms (${Math.round(subj.requestsPerSecond)} req/s)`,
      );
    }
  } finally {
    await plain.close();
    await sql.end();
    await server.close();
  }
  notes.push(`lost messages: ${lost}, duplicated: ${duplicated}, non-2xx or errors: ${errors}`);
  return summarize('webhook acknowledgement', {
    metric: 'p99 latency at 50 concurrent senders, webhook / plain INSERT route',
    unit: 'ms',
    target: 'ratio ≤ 2, 0 lost, 0 duplicated',
    rounds,
    pass: (median) => median <= 2 && lost === 0 && duplicated === 0 && errors === 0,
    notes,
  });
}

/**
 * Pipeline overhead: webhook in → reply at the fake gateway, minus the fake OpenAI's fixed 400 ms, at
 * p99, with a quiet time of 0. The baseline is the fake OpenAI's own answer time measured through the
 * openai-compatible HTTP call alone, so the ratio shows how much the pipeline adds around it.
 */
export async function benchPipeline(
  pgUrl: string,
  quick: boolean,
  opts: { knowledgePassages?: number } = {},
): Promise<ScenarioResult> {
  const AI_DELAY = 400;
  const passages = opts.knowledgePassages ?? 0;
  const openai = await startFakeOpenAI({ delayMs: AI_DELAY, responder: knowledgeResponder });
  const wasender = await startFakeWasender();
  const server = await startBenchServer(
    pgUrl,
    {
      WASENDER_WEBHOOK_SECRET: SECRET,
      OPENAI_API_KEY: openai.apiKey,
      OPENAI_BASE_URL: openai.url,
      WASENDER_API_TOKEN: wasender.token,
      WASENDER_BASE_URL: wasender.url,
      REPLY_QUIET_MS: '0',
      SEND_RATE_PER_MINUTE: '6000',
    },
    { workers: true },
  );
  const url = `${server.url}/webhook`;
  if (passages > 0) await loadKnowledge(server.runtime, passages);

  const perRound = quick ? 6 : 30;
  const rounds: Array<{ baseline: number; subject: number }> = [];
  const notes: string[] = [];
  let n = 0;
  try {
    for (let r = 0; r < 5; r++) {
      // Baseline: the bare model call the pipeline waits on.
      const bare: number[] = [];
      for (let i = 0; i < perRound; i++) {
        const t0 = performance.now();
        await fetch(`${openai.url}/chat/completions`, {
          method: 'POST',
          headers: { authorization: `Bearer ${openai.apiKey}`, 'content-type': 'application/json' },
          body: JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'x' }] }),
        }).then((res) => res.json());
        bare.push(performance.now() - t0 - AI_DELAY);
      }
      // Subject: whole loop, a few customers at a time.
      const overheads: number[] = [];
      for (let i = 0; i < perRound; i += 3) {
        await Promise.all(
          [0, 1, 2].map(async (k) => {
            n++;
            const phone = `1415556${String(1000 + n).padStart(4, '0')}`;
            const t0 = Date.now();
            await fetch(url, {
              method: 'POST',
              headers: webhookHeaders(SECRET),
              body: webhookBody(
                phone,
                `P${randomBytes(8).toString('hex')}${k}`,
                passages > 0 ? QUESTIONS[n % QUESTIONS.length]! : `hello ${n}`,
              ),
            });
            for (;;) {
              const hit = wasender.sent.find((s) => s.to === `+${phone}`);
              if (hit) {
                overheads.push(hit.at - t0 - AI_DELAY);
                return;
              }
              if (Date.now() - t0 > 20_000) throw new Error('reply never arrived');
              await sleep(2);
            }
          }),
        );
      }
      const p99 = percentile(overheads, 99);
      rounds.push({ baseline: Math.max(1, percentile(bare, 99)), subject: p99 });
      notes.push(
        `round ${r + 1}: pipeline overhead p99 ${p99.toFixed(1)} ms, bare model call overhead p99 ${percentile(bare, 99).toFixed(1)} ms`,
      );
    }
  } finally {
    await server.close();
    await openai.close();
    await wasender.close();
  }
  const worst = Math.max(...rounds.map((r) => r.subject));
  notes.push(`worst round p99 overhead: ${worst.toFixed(1)} ms (target ≤ 200 ms)`);
  if (passages > 0) {
    const grounded = wasender.sent.filter((x) => x.text.startsWith('According to')).length;
    notes.push(
      `knowledge base of ${passages} passages (${server.runtime.knowledge.retrieval()} retrieval); ` +
        `${grounded} of ${wasender.sent.length} replies answered from a passage`,
    );
  }
  return summarize(
    passages > 0 ? `pipeline overhead, ${passages}-passage knowledge base` : 'pipeline overhead',
    {
      metric:
        'webhook → reply at gateway minus the 400 ms model time, p99 per round; ratio to the bare model call overhead',
      unit: 'ms',
      target: 'p99 overhead ≤ 200 ms in every round',
      rounds,
      pass: (_median, rs) => rs.every((x) => x.subject <= 200),
      notes,
    },
  );
}

/**
 * Pipeline overhead with knowledge retrieval on: two servers on the same database kind and the same
 * fakes, one with a `passages`-passage knowledge base (embedded through the fake OpenAI embeddings),
 * one without any, measured in alternating rounds with the same customer questions. On Postgres (no
 * pgvector here) retrieval is lexical; on the embedded database (pgvector loaded) it is hybrid, with an
 * embeddings call per reply. The fake answers chat calls in 400 ms and embeddings calls in 100 ms (one
 * short question); the overhead is the time beyond waiting for OpenAI, so the hybrid path's embedding
 * wait is counted as model time like the chat call (and reported). Judged: the p99 overhead with
 * knowledge ≤ 200 ms in every round.
 */
export async function benchPipelineKnowledge(
  pgUrl: string,
  quick: boolean,
  passages = 1000,
): Promise<ScenarioResult[]> {
  const AI_DELAY = 400;
  const EMBED_DELAY = 100;
  const perRound = quick ? 9 : 30;
  const roundsN = 5;
  const out: ScenarioResult[] = [];
  let n = 0;
  for (const kind of ['postgres', 'embedded'] as const) {
    const openai = await startFakeOpenAI({
      delayMs: AI_DELAY,
      embeddingDelayMs: EMBED_DELAY,
      responder: knowledgeResponder,
    });
    const wasender = await startFakeWasender();
    const env = {
      WASENDER_WEBHOOK_SECRET: SECRET,
      OPENAI_API_KEY: openai.apiKey,
      OPENAI_BASE_URL: openai.url,
      WASENDER_API_TOKEN: wasender.token,
      WASENDER_BASE_URL: wasender.url,
      REPLY_QUIET_MS: '0',
      SEND_RATE_PER_MINUTE: '6000',
    };
    const start = () =>
      kind === 'postgres'
        ? startBenchServer(pgUrl, env, { workers: true })
        : startEmbeddedBenchServer(env, { workers: true });
    const servers: Array<Awaited<ReturnType<typeof start>>> = [];
    const rounds: Array<{ baseline: number; subject: number }> = [];
    const notes: string[] = [];
    const all = { plain: [] as number[], knowledge: [] as number[] };
    let retrieval = '?';
    try {
      const plain = await start();
      servers.push(plain);
      const withKb = await start();
      servers.push(withKb);
      const t0 = Date.now();
      await loadKnowledge(withKb.runtime, passages);
      retrieval = withKb.runtime.knowledge.retrieval();
      notes.push(`${passages} passages stored and embedded in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
      // One warm-up customer each: first connections and compiled code are not what is measured.
      // With hybrid retrieval each reply also waits for the question's embedding: model time too.
      const kbModelMs = AI_DELAY + (retrieval === 'hybrid' ? EMBED_DELAY : 0);
      notes.push(
        `model time subtracted: ${AI_DELAY} ms without knowledge, ${kbModelMs} ms with it (${retrieval} retrieval)`,
      );
      await overheadRound(plain.url, wasender, AI_DELAY, 3, () => ++n);
      await overheadRound(withKb.url, wasender, kbModelMs, 3, () => ++n);
      for (let r = 0; r < roundsN; r++) {
        const a = await overheadRound(plain.url, wasender, AI_DELAY, perRound, () => ++n);
        const b = await overheadRound(withKb.url, wasender, kbModelMs, perRound, () => ++n);
        all.plain.push(...a);
        all.knowledge.push(...b);
        rounds.push({ baseline: Math.max(1, percentile(a, 99)), subject: percentile(b, 99) });
        notes.push(
          `round ${r + 1}: p50/p99 overhead without knowledge ${fmt(a)}, with ${passages} passages ${fmt(b)}`,
        );
      }
      const grounded = wasender.sent.filter((x) => x.text.startsWith('According to')).length;
      notes.push(`${grounded} of ${wasender.sent.length} replies answered from a passage (both servers)`);
    } catch (err) {
      notes.push(`error: ${err instanceof Error ? err.message : String(err)}`.slice(0, 400));
    } finally {
      for (const s of servers.reverse()) await s.close().catch(() => {});
      await openai.close();
      await wasender.close();
    }
    out.push(
      summarize(`pipeline overhead with a ${passages}-passage knowledge base, ${kind}`, {
        metric:
          'webhook → reply at gateway minus the 400 ms model time, p99 per round; with the knowledge base / ' +
          'the same server kind without one, alternating',
        unit: 'ms',
        target: 'p99 overhead with knowledge ≤ 200 ms in every round',
        rounds,
        pass: (_median, rs) => rs.length === roundsN && rs.every((x) => x.subject <= 200),
        notes,
        table: {
          title: `Pipeline overhead with knowledge retrieval, ${kind} (${retrieval} retrieval), ms`,
          header: ['server', 'p50', 'p99', 'replies'],
          rows: [
            ['without knowledge', ...stats(all.plain)],
            [`${passages} passages`, ...stats(all.knowledge)],
          ],
        },
      }),
    );
  }
  return out;
}

function fmt(xs: number[]) {
  return `${percentile(xs, 50).toFixed(0)}/${percentile(xs, 99).toFixed(0)} ms`;
}

function stats(xs: number[]) {
  return [percentile(xs, 50).toFixed(1), percentile(xs, 99).toFixed(1), String(xs.length)];
}

/** `count` customers, three at a time, each asking one question: overheads over the model time, ms. */
async function overheadRound(
  baseUrl: string,
  wasender: { sent: Array<{ to: string; at: number }> },
  aiDelayMs: number,
  count: number,
  next: () => number,
): Promise<number[]> {
  const overheads: number[] = [];
  for (let i = 0; i < count; i += 3) {
    await Promise.all(
      [0, 1, 2].slice(0, count - i).map(async (k) => {
        const n = next();
        const phone = `1415557${String(1000 + n).padStart(4, '0')}`;
        const t0 = Date.now();
        const res = await fetch(`${baseUrl}/webhook`, {
          method: 'POST',
          headers: webhookHeaders(SECRET),
          body: webhookBody(
            phone,
            `K${randomBytes(8).toString('hex')}${k}`,
            QUESTIONS[n % QUESTIONS.length]!,
          ),
        });
        await res.arrayBuffer();
        for (;;) {
          const hit = wasender.sent.find((s) => s.to === `+${phone}`);
          if (hit) {
            overheads.push(hit.at - t0 - aiDelayMs);
            return;
          }
          if (Date.now() - t0 > 20_000) throw new Error('reply never arrived');
          await sleep(2);
        }
      }),
    );
  }
  return overheads;
}

/** Customer questions of the knowledge case: some answered by the loaded passages, some not. */
const QUESTIONS = [
  'Do you deliver on Sundays?',
  'How much does delivery cost to my town?',
  'Can I return a chair after two weeks?',
  'What are your opening hours on Saturday?',
  'Do you have standing desks in oak?',
  'What colour is your logo?',
];

const TOPICS = ['delivery', 'returns', 'opening hours', 'desks', 'chairs', 'payment', 'warranty', 'assembly'];

/**
 * Loads `total` passages (documents of 20 sections each, on a few shop topics with varied wording) and
 * waits until the embed workers have embedded them all.
 */
async function loadKnowledge(runtime: Runtime, total: number) {
  const perDoc = 20;
  for (let d = 0; d * perDoc < total; d++) {
    const topic = TOPICS[d % TOPICS.length]!;
    const sections = Array.from({ length: Math.min(perDoc, total - d * perDoc) }, (_, i) => {
      const n = d * perDoc + i;
      return (
        `## ${topic} note ${n}\nAbout ${topic} for region ${n % 37}, product line ${n % 11}: ` +
        `customers ordering on day ${n % 7} of the week get service level ${n % 5}. ` +
        `Sundays ${n % 2 ? 'are' : 'are not'} included for this region; the fee is ${n % 40} EUR.`
      );
    });
    await runtime.services.knowledge.add(
      { title: `${topic} handbook ${d + 1}`, content: `# ${topic}\n\n${sections.join('\n\n')}` },
      systemCaller,
    );
  }
  const deadline = Date.now() + 120_000;
  for (;;) {
    const { items } = await runtime.services.knowledge.list({ limit: 500 });
    if (items.every((i) => i.status === 'ready' || !runtime.knowledge.embeddings.configured)) break;
    if (Date.now() > deadline) throw new Error('the knowledge base was not embedded in time');
    await sleep(200);
  }
}
