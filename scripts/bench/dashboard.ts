import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { PgDialect } from 'drizzle-orm/pg-core';
import postgres from 'postgres';
import { loadConfig } from '../../server/config';
import type { TConversationListInput } from '../../server/contracts';
import * as convq from '../../server/db/queries/conversations';
import { likePattern } from '../../server/db/queries/keyset';
import { dashboardPeriodQueries, dashboardQueries } from '../../server/db/queries/stats';
import { createLogger } from '../../server/log';
import { loadPersona } from '../../server/persona';
import { createRuntime, type Runtime } from '../../server/runtime';
import { systemCaller } from '../../server/services/auth';
import { createInnerContext } from '../../server/trpc/context';
import { createCaller } from '../../server/trpc/router';
import { type ScenarioResult, summarize } from './lib';

/**
 * Dashboard read speed on a large data set (see scripts/generate-data.ts): each query scenario runs the
 * procedure through createCaller (validation, service, Drizzle, output check) and the very same SQL
 * through postgres.js directly, alternating call by call, for several rounds. The SQL is rendered from
 * the server's own query functions (server/db/queries/*), so the baseline follows whatever they send.
 * Targets: the procedure's p95 within 1.3× the direct SQL's p95, and the direct SQL's p95 under 100 ms.
 *
 * Used by `npm run bench` (the `dashboard` scenario, on a small and a large data set) and by
 * scripts/bench-dashboard.ts (one run on the database of DATABASE_URL).
 */
export const RATIO_TARGET = 1.3;
export const SQL_P95_TARGET_MS = 100;

interface QueryScenario {
  name: string;
  procedure: string;
  input: unknown;
  viaCaller: () => Promise<unknown>;
  /** The same SQL through postgres.js, sent the way the procedure sends it. */
  direct: () => Promise<unknown>;
  /** The same SQL sent the other way (named or unnamed statement), for information. */
  other: () => Promise<unknown>;
  protocol: 'prepared' | 'unnamed';
}

function queryScenarios(runtime: Runtime): QueryScenario[] {
  const { db, sql } = runtime.database;
  const caller = createCaller(
    createInnerContext({ services: runtime.services, log: runtime.log, caller: systemCaller }),
  );
  const dialect = new PgDialect({ casing: 'snake_case' });

  /**
   * Runs a rendered query through postgres.js as an unnamed statement (planned on every call, as
   * Drizzle sends ad-hoc queries) or as a named, prepared statement (as the inbox's common filter
   * shapes are sent). The baseline of each scenario uses the procedure's own way, so the ratio measures
   * this server's layers rather than a protocol difference; the other way is reported beside.
   */
  const raw = (q: { sql: string; params: unknown[] }) =>
    sql.unsafe(q.sql, q.params as never[], { prepare: false });
  const rawPrepared = (q: { sql: string; params: unknown[] }) =>
    sql.unsafe(q.sql, q.params as never[], { prepare: true });
  const sent = (protocol: QueryScenario['protocol']) =>
    protocol === 'prepared' ? { direct: rawPrepared, other: raw } : { direct: raw, other: rawPrepared };

  function listScenario(name: string, filter: Omit<TConversationListInput, 'limit'>): QueryScenario {
    const input = { limit: 25, ...filter };
    const rendered = convq.conversationListQuery(db, { ...input, after: null }).toSQL();
    const protocol = filter.q || filter.tag ? 'unnamed' : 'prepared';
    const { direct, other } = sent(protocol);
    return {
      name,
      procedure: 'conversations.list',
      input,
      viaCaller: () => caller.conversations.list(input),
      direct: () => direct(rendered),
      other: () => other(rendered),
      protocol,
    };
  }

  function searchScenario(name: string, q: string): QueryScenario {
    const input = { q, limit: 20 };
    const contactsSql = convq.searchContacts(db, { q, limit: 20 }).toSQL();
    const messagesSql = convq.searchMessages(db, { pattern: likePattern(q), limit: 20, after: null }).toSQL();
    return {
      name,
      procedure: 'conversations.search',
      input,
      viaCaller: () => caller.conversations.search(input),
      // The service runs its two queries side by side; so does the baseline.
      direct: () => Promise.all([raw(contactsSql), raw(messagesSql)]),
      other: () => Promise.all([rawPrepared(contactsSql), rawPrepared(messagesSql)]),
      protocol: 'unnamed',
    };
  }

  const dashboard = (() => {
    const q = dashboardQueries('UTC');
    const p = dashboardPeriodQueries('UTC');
    const rendered = [q.people, q.traffic, q.work, p.flow, p.bot, p.ai, p.crm].map((part) =>
      dialect.sqlToQuery(part),
    );
    return {
      name: 'dashboard',
      procedure: 'stats.dashboard',
      input: {},
      viaCaller: () => caller.stats.dashboard({}),
      // The service sends its seven statements together; so does the baseline.
      direct: () => Promise.all(rendered.map(raw)),
      other: () => Promise.all(rendered.map(rawPrepared)),
      protocol: 'unnamed' as const,
    };
  })();

  return [
    dashboard,
    listScenario('inbox, no filter', {}),
    listScenario('bot-owned and unread', { owner: 'bot', unread: true }),
    listScenario('human-owned with open handoff', { owner: 'human', hasOpenHandoff: true }),
    listScenario('tag vip, lead status qualified', { tag: 'vip', leadStatus: 'qualified' }),
    listScenario('opted out', { optedOut: true }),
    listScenario('text query (name)', { q: 'garcia' }),
    searchScenario('message text, common word', 'warranty'),
    searchScenario('message text, rare phrase', 'order 4242'),
    searchScenario('contact name', 'Nakamura'),
    searchScenario('phone digits', '2025551234'),
  ];
}

const now = () => Number(process.hrtime.bigint()) / 1e6;
const round2 = (x: number) => Math.round(x * 100) / 100;
function p95(xs: number[]) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil(0.95 * s.length) - 1)]!;
}
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
};

export interface DashboardQueryResult {
  scenario: string;
  procedure: string;
  input: unknown;
  samples: number;
  callerMs: { p50: number; p95: number };
  directMs: { p50: number; p95: number };
  protocol: 'prepared' | 'unnamed';
  otherProtocolMs: { p50: number; p95: number } | null;
  /** The procedure's p95 over the direct SQL's p95, all rounds pooled. */
  ratioP95: number;
  roundsP95Ms: Array<{ caller: number; direct: number }>;
  pass: boolean;
}

export interface DashboardRun {
  date: string;
  loadAverageAtStart: number[];
  targets: { ratioP95: number; directP95Ms: number };
  settings: { rounds: number; iterationsPerRound: number; warmup: number; other: boolean };
  data: { contacts: number; conversations: number; messages: number };
  machine: { node: string; postgres: string; cpus: number; cpuModel: string; memoryGiB: number };
  results: DashboardQueryResult[];
  pass: boolean;
}

/**
 * Measures every query scenario on the database at `url` (a server runtime is started on it, workers
 * off). Bounded in count: (warmup + rounds × iterations) × variants calls per scenario.
 */
export async function measureDashboard(
  url: string,
  opts: {
    rounds: number;
    iterations: number;
    warmup: number;
    /** Also time the SQL sent the other way (named vs unnamed statement), for information. */
    other: boolean;
    log?: (line: string) => void;
  },
): Promise<DashboardRun> {
  const log = opts.log ?? (() => {});
  const config = loadConfig({
    ...process.env,
    DATABASE_URL: url,
    LOG_LEVEL: 'warn',
    BOOTSTRAP_ADMIN_KEY: 'false',
  });
  const runtime = await createRuntime({
    config,
    persona: loadPersona(config.personaPath),
    log: createLogger({ logLevel: 'warn' }),
    workers: false,
  });
  try {
    const { sql } = runtime.database;
    const scenarios = queryScenarios(runtime);
    const loadAtStart = os.loadavg();
    const counts = (
      await sql`select (select count(*) from contacts)::int as contacts,
                       (select count(*) from conversations)::int as conversations,
                       (select count(*) from messages)::int as messages`
    )[0] as { contacts: number; conversations: number; messages: number };
    const [{ version }] = (await sql`select current_setting('server_version') as version`) as unknown as [
      { version: string },
    ];
    log(
      `data: ${counts.contacts} contacts, ${counts.conversations} conversations, ${counts.messages} messages (Postgres ${version})`,
    );

    type Variant = 'caller' | 'direct' | 'other';
    const variants: Variant[] = opts.other ? ['caller', 'direct', 'other'] : ['caller', 'direct'];
    const runVariant = (s: QueryScenario, v: Variant) =>
      v === 'caller' ? s.viaCaller() : v === 'direct' ? s.direct() : s.other();

    for (const s of scenarios) {
      for (let i = 0; i < opts.warmup; i++) for (const v of variants) await runVariant(s, v);
    }
    const samples = new Map(
      scenarios.map((s) => [
        s.name,
        {
          caller: [] as number[],
          direct: [] as number[],
          other: [] as number[],
          rounds: [] as { caller: number; direct: number }[],
        },
      ]),
    );
    for (let r = 0; r < opts.rounds; r++) {
      for (const s of scenarios) {
        const round: Record<Variant, number[]> = { caller: [], direct: [], other: [] };
        for (let i = 0; i < opts.iterations; i++) {
          // Rotate which goes first so none always meets a warmer cache.
          for (let k = 0; k < variants.length; k++) {
            const v = variants[(i + k) % variants.length]!;
            const t0 = now();
            await runVariant(s, v);
            round[v].push(now() - t0);
          }
        }
        const entry = samples.get(s.name)!;
        entry.caller.push(...round.caller);
        entry.direct.push(...round.direct);
        entry.other.push(...round.other);
        entry.rounds.push({ caller: p95(round.caller), direct: p95(round.direct) });
      }
      log(`round ${r + 1}/${opts.rounds} done`);
    }

    const results = scenarios.map((s): DashboardQueryResult => {
      const e = samples.get(s.name)!;
      const callerP95 = p95(e.caller);
      const directP95 = p95(e.direct);
      const ratio = callerP95 / directP95;
      return {
        scenario: s.name,
        procedure: s.procedure,
        input: s.input,
        samples: e.caller.length,
        callerMs: { p50: round2(median(e.caller)), p95: round2(callerP95) },
        directMs: { p50: round2(median(e.direct)), p95: round2(directP95) },
        protocol: s.protocol,
        otherProtocolMs: e.other.length ? { p50: round2(median(e.other)), p95: round2(p95(e.other)) } : null,
        ratioP95: round2(ratio),
        roundsP95Ms: e.rounds.map((x) => ({ caller: round2(x.caller), direct: round2(x.direct) })),
        pass: ratio <= RATIO_TARGET && directP95 < SQL_P95_TARGET_MS,
      };
    });
    return {
      date: new Date().toISOString(),
      loadAverageAtStart: loadAtStart,
      targets: { ratioP95: RATIO_TARGET, directP95Ms: SQL_P95_TARGET_MS },
      settings: {
        rounds: opts.rounds,
        iterationsPerRound: opts.iterations,
        warmup: opts.warmup,
        other: opts.other,
      },
      data: counts,
      machine: {
        node: process.version,
        postgres: version,
        cpus: os.cpus().length,
        cpuModel: os.cpus()[0]?.model ?? 'unknown',
        memoryGiB: Math.round(os.totalmem() / 2 ** 30),
      },
      results,
      pass: results.every((r) => r.pass),
    };
  } finally {
    await runtime.close();
  }
}

/** The Markdown report of one run (bench/dashboard.md). */
export function dashboardMarkdown(run: DashboardRun): string {
  const { data: counts, machine, settings } = run;
  return [
    '# Dashboard read benchmark',
    '',
    `${run.date.slice(0, 10)}: ${counts.contacts} contacts, ${counts.conversations} conversations, ${counts.messages} messages`,
    `on Postgres ${machine.postgres}, ${machine.cpus} × ${machine.cpuModel}, Node ${machine.node}.`,
    `${settings.rounds} rounds × ${settings.iterationsPerRound} calls per scenario, taking turns: the procedure through createCaller, the same SQL`,
    'through postgres.js sent the way the procedure sends it (named prepared statement, or unnamed statement planned',
    'per call), and the same SQL sent the other way (for information).',
    `Load average at the start: ${run.loadAverageAtStart.map((x) => x.toFixed(1)).join(' / ')} (1 / 5 / 15 min).`,
    `Targets: procedure p95 ≤ ${run.targets.ratioP95}× direct p95, direct p95 < ${run.targets.directP95Ms} ms.`,
    '',
    '| scenario | procedure | statement | direct SQL p50 / p95 (ms) | procedure p50 / p95 (ms) | p95 ratio | result | SQL sent the other way p50 / p95 (ms) |',
    '|---|---|---|---|---|---|---|---|',
    ...run.results.map(
      (r) =>
        `| ${r.scenario} | ${r.procedure} | ${r.protocol} | ${r.directMs.p50} / ${r.directMs.p95} | ${r.callerMs.p50} / ${r.callerMs.p95} | ${r.ratioP95.toFixed(2)} | ${r.pass ? 'pass' : 'FAIL'} | ${r.otherProtocolMs ? `${r.otherProtocolMs.p50} / ${r.otherProtocolMs.p95}` : 'n/a'} |`,
    ),
    '',
    'Reproduce: `DATABASE_URL=postgres://…/wcb_bench npx tsx scripts/generate-data.ts` then',
    '`DATABASE_URL=postgres://…/wcb_bench npx tsx scripts/bench-dashboard.ts`.',
    '',
  ].join('\n');
}

export interface DatasetSize {
  contacts: number;
  conversations: number;
  messages: number;
}

const databaseUrl = (baseUrl: string, name: string) => {
  const u = new URL(baseUrl);
  u.pathname = `/${name}`;
  return u.toString();
};

/**
 * What a data set depends on besides its sizes: the generator and the migrations. When either changes
 * the data sets are generated again (a new migration may add tables the generator now fills).
 */
function datasetFingerprint(): string {
  const h = createHash('sha256');
  for (const f of ['scripts/generate-data.ts', 'migrations/meta/_journal.json']) h.update(readFileSync(f));
  return h.digest('hex').slice(0, 16);
}

/**
 * A data set made by scripts/generate-data.ts in the database `name`, reused when a marker table says
 * it was completed with these sizes by the same generator and migrations (and the message count
 * agrees); otherwise generated again (bounded by a 15-minute timeout). Returns the database's URL.
 */
export async function ensureDataset(
  baseUrl: string,
  name: string,
  size: DatasetSize,
  log: (line: string) => void,
): Promise<string> {
  const url = databaseUrl(baseUrl, name);
  const fingerprint = datasetFingerprint();
  const admin = postgres(baseUrl, { max: 1, onnotice: () => {} });
  let reusable = false;
  try {
    const [exists] = await admin`select 1 from pg_database where datname = ${name}`;
    if (exists) {
      const sql = postgres(url, { max: 1, onnotice: () => {} });
      try {
        const [marker] = await sql`
          select m.contacts, m.conversations, m.messages, m.fingerprint,
                 (select count(*) from messages)::int as actual
          from bench_dataset m`.catch(() => []);
        reusable =
          !!marker &&
          marker.contacts === size.contacts &&
          marker.conversations === size.conversations &&
          marker.messages === size.messages &&
          marker.fingerprint === fingerprint &&
          marker.actual === size.messages;
      } finally {
        await sql.end();
      }
    }
  } finally {
    await admin.end();
  }
  if (reusable) {
    log(`reusing ${name} (${size.messages} messages)`);
    return url;
  }
  log(
    `generating ${name}: ${size.contacts} contacts, ${size.conversations} conversations, ${size.messages} messages`,
  );
  const t0 = Date.now();
  await new Promise<void>((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        'scripts/generate-data.ts',
        '--contacts',
        String(size.contacts),
        '--conversations',
        String(size.conversations),
        '--messages',
        String(size.messages),
        '--reset',
      ],
      { env: { ...process.env, DATABASE_URL: url }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 15 * 60_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      if (code === 0) resolve();
      else reject(new Error(`generate-data failed (${code}):\n${out}`));
    });
  });
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  try {
    await sql`drop table if exists bench_dataset`;
    await sql`create table bench_dataset (contacts int not null, conversations int not null,
              messages int not null, fingerprint text not null, generated_at timestamptz not null default now())`;
    await sql`insert into bench_dataset (contacts, conversations, messages, fingerprint)
              values (${size.contacts}, ${size.conversations}, ${size.messages}, ${fingerprint})`;
  } finally {
    await sql.end();
  }
  log(`generated ${name} in ${Math.round((Date.now() - t0) / 1000)} s`);
  return url;
}

/**
 * The suite's dashboard scenario: every query scenario on a small and a large generated data set
 * (100k and 1M messages; 20k and 100k with --quick), the ratio judged on the large one, and how the
 * procedure's p95 grows from the small to the large set. Contacts and conversations are the same in
 * both sets, so the growth is that of message volume alone. The data sets live in their own databases
 * (wcb_bench_<size>) and are reused by later runs.
 */
export async function benchDashboard(pgUrl: string, quick: boolean): Promise<ScenarioResult[]> {
  const people = quick
    ? { contacts: 10_000, conversations: 4_000 }
    : { contacts: 50_000, conversations: 20_000 };
  const sizes = quick ? [20_000, 100_000] : [100_000, 1_000_000];
  const label = (n: number) => (n >= 1_000_000 ? `${n / 1_000_000}M` : `${n / 1000}k`);
  const settings = quick
    ? { rounds: 5, iterations: 8, warmup: 2, other: false }
    : { rounds: 5, iterations: 40, warmup: 5, other: false };
  const log = (line: string) => process.stdout.write(`    ${line}\n`);
  const runs: DashboardRun[] = [];
  for (const messages of sizes) {
    const suffix = quick ? `q${label(messages)}` : label(messages);
    const url = await ensureDataset(pgUrl, `wcb_bench_${suffix.toLowerCase()}`, { ...people, messages }, log);
    runs.push(await measureDashboard(url, settings));
  }
  const [small, large] = runs as [DashboardRun, DashboardRun];
  const rows: string[][] = [];
  const results = large.results.map((r, i) => {
    const s = small.results[i]!;
    const growth = r.callerMs.p95 / s.callerMs.p95;
    rows.push([
      r.scenario,
      `${s.directMs.p95} / ${s.callerMs.p95}`,
      `${r.directMs.p95} / ${r.callerMs.p95}`,
      growth.toFixed(2),
      r.ratioP95.toFixed(2),
    ]);
    return summarize(`dashboard: ${r.scenario === 'dashboard' ? 'stats.dashboard' : r.scenario}`, {
      metric: `${r.procedure} p95 / same SQL p95 per round, at ${label(large.data.messages)} messages`,
      unit: 'ms',
      target: `pooled p95 ratio ≤ ${RATIO_TARGET}, SQL p95 < ${SQL_P95_TARGET_MS} ms`,
      rounds: r.roundsP95Ms.map((x) => ({ baseline: x.direct, subject: x.caller })),
      // Judged on the p95 of all rounds' samples together (per-round p95s rest on few calls each).
      pass: () => r.pass,
      notes: [
        `${label(large.data.messages)}: SQL p50/p95 ${r.directMs.p50}/${r.directMs.p95} ms, procedure ${r.callerMs.p50}/${r.callerMs.p95} ms ` +
          `(pooled p95 ratio ${r.ratioP95.toFixed(2)}, +${(r.callerMs.p50 - r.directMs.p50).toFixed(2)} ms at p50); ` +
          `${label(small.data.messages)}: SQL ${s.directMs.p50}/${s.directMs.p95} ms, procedure ${s.callerMs.p50}/${s.callerMs.p95} ms; ` +
          `procedure p95 grows ×${growth.toFixed(2)} for ×${(large.data.messages / small.data.messages).toFixed(0)} messages`,
      ],
    });
  });
  const last = results.at(-1)!;
  last.notes.push(
    `data: ${large.data.contacts} contacts, ${large.data.conversations} conversations; ${settings.rounds} rounds × ` +
      `${settings.iterations} calls per variant and scenario, alternating; per-round p95 ratios, ` +
      `SQL p95 pooled over the rounds; load average ${large.loadAverageAtStart.map((x) => x.toFixed(1)).join(' / ')}`,
  );
  last.table = {
    title: `Dashboard queries from ${label(small.data.messages)} to ${label(large.data.messages)} messages (p95 in ms):`,
    header: [
      'scenario',
      `${label(small.data.messages)}: SQL / procedure`,
      `${label(large.data.messages)}: SQL / procedure`,
      'procedure growth',
      `pooled p95 ratio at ${label(large.data.messages)}`,
    ],
    rows,
  };
  return results;
}
