import { drizzle } from 'drizzle-orm/postgres-js';
import Fastify from 'fastify';
import postgres from 'postgres';
import superjson from 'superjson';
import { schema } from '../../drizzle';
import * as acts from '../../server/db/queries/activities';
import * as cq from '../../server/db/queries/contacts';
import * as dq from '../../server/db/queries/deals';
import * as tq from '../../server/db/queries/tasks';
import { httpLoad, type LoadResult, type ScenarioResult, startBenchServer, summarize } from './lib';

/** Targets: tRPC keeps at least half the plain route's throughput, and at most twice its p99. */
const THROUGHPUT_TARGET = 0.5;
const P99_TARGET = 2;

/**
 * Seeds `n` contacts the way a working CRM looks: each with a conversation, every third with one to
 * three deals, open and done tasks, and five to fifteen activities.
 */
async function seed(sql: postgres.Sql, n: number) {
  await sql.unsafe(`
    insert into contacts (phone, name, email, company, lead_status, lead_score, source, tags)
    select '+1415' || (3000000 + g)::text, 'Read Bench ' || g, 'reader' || g || '@example.com',
           case when g % 3 = 0 then 'Acme' end,
           (array['new','contacted','qualified','proposal','customer'])[1 + g % 5], g % 101, 'whatsapp',
           case when g % 4 = 0 then array['vip'] else '{}'::text[] end
    from generate_series(1, ${n}) g`);
  await sql.unsafe(`
    insert into conversations (contact_id, owner, unread_count, last_message_at)
    select id, case when rn % 10 = 0 then 'human' else 'bot' end, rn % 4, now() - rn * interval '1 minute'
    from (select id, row_number() over (order by phone) as rn from contacts) c`);
  await sql.unsafe(`
    insert into deals (contact_id, title, stage, value, probability, created_at)
    select c.id, 'Order ' || c.rn || '-' || k, (array['lead','qualified','proposal','won'])[1 + (c.rn + k) % 4],
           (c.rn * 37 % 5000) + k, (c.rn * 13) % 101, now() - k * interval '3 days'
    from (select id, row_number() over (order by phone) as rn from contacts) c
    cross join generate_series(1, 3) k
    where c.rn % 3 = 0 and k <= 1 + c.rn % 3`);
  await sql.unsafe(`
    insert into tasks (contact_id, title, type, priority, status, due_at)
    select c.id, 'Follow up ' || k, 'follow_up', (array['low','medium','high','urgent'])[1 + k % 4],
           case when k % 2 = 0 then 'done' else 'open' end, now() + (k - 2) * interval '1 day'
    from (select id, row_number() over (order by phone) as rn from contacts) c
    cross join generate_series(1, 4) k`);
  await sql.unsafe(`
    insert into activities (contact_id, type, summary, actor_type, occurred_at)
    select c.id, 'note', 'Called about order ' || k, 'agent', now() - k * interval '6 hours'
    from (select id, row_number() over (order by phone) as rn from contacts) c
    cross join generate_series(1, 15) k
    where k <= 5 + c.rn % 11`);
  await sql.unsafe('analyze');
}

/**
 * tRPC read: `crm.contacts.get` over HTTP (the real app: rate-limit plugin, API-key authentication,
 * tRPC with superjson, zod input and output checks, the contacts service and its four Drizzle queries)
 * against a plain Fastify route on its own port that sends the very same four SQL statements with the
 * same parameters on an identical postgres.js client (same pool size, same prepared-statement setting)
 * and returns the rows as JSON. The statements are captured once from Drizzle's logger while calling
 * the server's own query functions, so the baseline follows whatever SQL those functions send.
 *
 * Each round measures both alternately: throughput at saturation (20 connections, as fast as answered)
 * and p99 latency at a fixed offered rate that the baseline handles comfortably (so p99 shows the
 * per-request cost, not queueing). The load generator runs in a worker thread.
 */
export async function benchTrpcRead(pgUrl: string, quick: boolean): Promise<ScenarioResult[]> {
  const contactsN = quick ? 1000 : 4000;
  const roundsN = 5;
  const durationS = quick ? 0.5 : 4;
  const server = await startBenchServer(
    pgUrl,
    {
      DATABASE_POOL_MAX: '10',
      // The rate-limit plugin stays on as in production, with a limit this load never reaches.
      RATE_LIMIT_PER_MINUTE: '1000000',
    },
    { workers: false },
  );
  const { db, config, runtime } = server;
  const subjectUrl = server.url;

  // The baseline's own client, configured as the server's (server/db/client.ts).
  const sql = postgres(db.url, {
    max: config.database.poolMax,
    prepare: config.database.prepare,
    onnotice: () => {},
    connect_timeout: 10,
    idle_timeout: 60,
  });
  const plain = Fastify();
  const notes: string[] = [];
  const rounds: Array<{ tBase: LoadResult; tSubj: LoadResult; lBase: LoadResult; lSubj: LoadResult }> = [];
  try {
    await seed(runtime.database.sql, contactsN);
    const ids = (await sql`select id from contacts order by phone`).map((r) => r.id as string);
    const { key } = await runtime.services.auth.createKey({ name: 'bench reader', role: 'agent' });

    // Capture the statements the service sends for one contact, with its id as a marker to replace.
    const marker = ids[0]!;
    const captured: Array<{ sql: string; params: unknown[] }> = [];
    const recording = drizzle({
      client: sql,
      schema,
      casing: 'snake_case',
      logger: { logQuery: (query, params) => captured.push({ sql: query, params }) },
    });
    await cq.findContactDetail(recording, marker);
    await Promise.all([
      dq.listContactDeals(recording, marker),
      tq.listOpenTasksOfContact(recording, marker),
      acts.recentActivitiesOfContact(recording, marker),
    ]);
    if (captured.length !== 4) throw new Error(`expected 4 statements, captured ${captured.length}`);
    const [detail, ...rest] = captured as [(typeof captured)[0], ...typeof captured];
    const bind = (q: { params: unknown[] }, id: string) =>
      q.params.map((p) => (p === marker ? id : p)) as never[];
    // Same order and concurrency as the service: the contact first, then the three lists together.
    plain.get<{ Params: { id: string } }>('/contact/:id', async (req, reply) => {
      const id = req.params.id;
      const [row] = await sql.unsafe(detail.sql, bind(detail, id));
      if (!row) return reply.code(404).send({ error: 'not found' });
      const [deals, openTasks, recent] = await Promise.all(rest.map((q) => sql.unsafe(q.sql, bind(q, id))));
      return { ...row, deals, openTasks, recentActivities: recent };
    });
    await plain.listen({ host: '127.0.0.1', port: 0 });
    const baselineUrl = `http://127.0.0.1:${(plain.server.address() as { port: number }).port}`;

    // Requests walk through a few hundred contacts in turn.
    const sample = ids.filter((_, i) => i % Math.max(1, Math.floor(ids.length / 400)) === 0);
    const trpcPath = (id: string) =>
      `/trpc/crm.contacts.get?input=${encodeURIComponent(JSON.stringify(superjson.serialize({ id })))}`;
    const subjectRequests = sample.map((id) => ({ method: 'GET' as const, path: trpcPath(id) }));
    const baselineRequests = sample.map((id) => ({ method: 'GET' as const, path: `/contact/${id}` }));
    const auth = { authorization: `Bearer ${key}` };

    const check = await fetch(`${subjectUrl}${trpcPath(sample[1]!)}`, { headers: auth });
    const body = (await check.json()) as { result?: { data?: { json?: { deals?: unknown[] } } } };
    if (!check.ok || !body.result?.data?.json) throw new Error(`tRPC check failed: ${check.status}`);
    const checkPlain = await fetch(`${baselineUrl}/contact/${sample[1]}`);
    if (!checkPlain.ok) throw new Error(`baseline check failed: ${checkPlain.status}`);

    const base = (p: { durationS: number; overallRate?: number; connections: number }) =>
      httpLoad({ url: baselineUrl, requests: baselineRequests, ...p });
    const subj = (p: { durationS: number; overallRate?: number; connections: number }) =>
      httpLoad({ url: subjectUrl, requests: subjectRequests, headers: auth, ...p });

    // Warm-up of both paths (JIT, prepared statements, the key cache), then the fixed rate for the
    // latency runs: 40% of the slower side's warm-up throughput, so neither side queues.
    const warmS = quick ? 0.7 : 2;
    await subj({ durationS: warmS, connections: 10 });
    const warmBase = await base({ durationS: warmS, connections: 20 });
    const warmSubj = await subj({ durationS: warmS, connections: 20 });
    const slower = Math.min(warmBase.requestsPerSecond, warmSubj.requestsPerSecond);
    const fixedRate = Math.max(20, Math.round((slower * 0.4) / 10) * 10);

    for (let i = 0; i < roundsN; i++) {
      // Alternate which side goes first in each round.
      const order = i % 2 === 0;
      const sat = { durationS, connections: 20 };
      const lat = { durationS, connections: 10, overallRate: fixedRate };
      const tBase = order ? await base(sat) : undefined;
      const tSubj = await subj(sat);
      const tBase2 = tBase ?? (await base(sat));
      const lBase = order ? await base(lat) : undefined;
      const lSubj = await subj(lat);
      const lBase2 = lBase ?? (await base(lat));
      rounds.push({ tBase: tBase2, tSubj, lBase: lBase2, lSubj });
      notes.push(
        `round ${i + 1}: saturation ${Math.round(tSubj.requestsPerSecond)} req/s (tRPC) vs ${Math.round(tBase2.requestsPerSecond)} req/s (plain); ` +
          `at ${fixedRate} req/s p99 ${lSubj.p99} ms (tRPC) vs ${lBase2.p99} ms (plain), p50 ${lSubj.p50} vs ${lBase2.p50} ms`,
      );
    }
  } finally {
    await plain.close();
    await sql.end();
    await server.close();
  }
  const failed = rounds.reduce(
    (n, r) => n + r.tBase.failed + r.tSubj.failed + r.lBase.failed + r.lSubj.failed,
    0,
  );
  notes.push(
    `${contactsN} contacts with conversations, deals, tasks and activities; ${durationS} s per run; failed requests: ${failed}`,
  );
  const throughput = summarize('tRPC read throughput', {
    metric: 'crm.contacts.get req/s at 20 connections, tRPC / plain Fastify route with the same SQL',
    unit: 'req/s',
    target: `ratio ≥ ${THROUGHPUT_TARGET}`,
    higherIsBetter: true,
    rounds: rounds.map((r) => ({ baseline: r.tBase.requestsPerSecond, subject: r.tSubj.requestsPerSecond })),
    pass: (median) => median >= THROUGHPUT_TARGET && failed === 0,
    notes,
  });
  const latency = summarize('tRPC read p99', {
    metric: 'crm.contacts.get p99 at a fixed rate, tRPC / plain Fastify route with the same SQL',
    unit: 'ms',
    target: `ratio ≤ ${P99_TARGET}`,
    rounds: rounds.map((r) => ({ baseline: Math.max(1, r.lBase.p99), subject: Math.max(1, r.lSubj.p99) })),
    pass: (median) => median <= P99_TARGET && failed === 0,
    notes: ['round details under "tRPC read throughput"'],
  });
  return [throughput, latency];
}
