import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { PgDialect } from 'drizzle-orm/pg-core';
import { loadConfig } from '../server/config';
import type { TConversationListInput } from '../server/contracts';
import * as convq from '../server/db/queries/conversations';
import { likePattern } from '../server/db/queries/keyset';
import { dashboardPeriodQueries, dashboardQueries } from '../server/db/queries/stats';
import { createLogger } from '../server/log';
import { loadPersona } from '../server/persona';
import { createRuntime } from '../server/runtime';
import { systemCaller } from '../server/services/auth';
import { createInnerContext } from '../server/trpc/context';
import { createCaller } from '../server/trpc/router';
import { fail, parseArgs } from './_cli';

/**
 * Dashboard read speed on a large data set (see scripts/generate-data.ts): each scenario runs the
 * procedure through createCaller (validation, service, Drizzle, output check) and the very same SQL
 * through postgres.js directly, alternating call by call, for several rounds. The targets: the
 * procedure's p95 within 1.3× the direct SQL's p95, and the direct SQL's p95 under 100 ms.
 * Writes bench/dashboard.json and bench/dashboard.md.
 *
 *   DATABASE_URL=postgres://postgres@127.0.0.1:5432/wcb_bench npx tsx scripts/bench-dashboard.ts \
 *     [--rounds 7] [--iterations 40] [--warmup 10]
 */
const args = parseArgs(process.argv.slice(2));
const intArg = (name: string, dflt: number, min: number) => {
  const v = args[name];
  const n = v === undefined ? dflt : Number(v);
  if (!Number.isInteger(n) || n < min) fail(`--${name} must be a whole number of at least ${min}`);
  return n;
};
const rounds = intArg('rounds', 7, 5);
const iterations = intArg('iterations', 40, 5);
const warmup = intArg('warmup', 10, 0);
const RATIO_TARGET = 1.3;
const SQL_P95_TARGET_MS = 100;

if (!process.env.DATABASE_URL)
  fail('Set DATABASE_URL to a Postgres database filled by scripts/generate-data.ts.');

interface Scenario {
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

const config = loadConfig({ ...process.env, LOG_LEVEL: 'warn', BOOTSTRAP_ADMIN_KEY: 'false' });
const runtime = await createRuntime({
  config,
  persona: loadPersona(config.personaPath),
  log: createLogger({ logLevel: 'warn' }),
  workers: false,
});
const { db, sql } = runtime.database;
const caller = createCaller(
  createInnerContext({ services: runtime.services, log: runtime.log, caller: systemCaller }),
);
const dialect = new PgDialect({ casing: 'snake_case' });

/**
 * Runs a rendered query through postgres.js as an unnamed statement (planned on every call, as Drizzle
 * sends ad-hoc queries) or as a named, prepared statement (as the inbox's common filter shapes are
 * sent). The baseline of each scenario uses the procedure's own way, so the ratio measures this
 * server's layers rather than a protocol difference; the other way is reported beside.
 */
const raw = (q: { sql: string; params: unknown[] }) =>
  sql.unsafe(q.sql, q.params as never[], { prepare: false });
const rawPrepared = (q: { sql: string; params: unknown[] }) =>
  sql.unsafe(q.sql, q.params as never[], { prepare: true });
const sent = (protocol: Scenario['protocol']) =>
  protocol === 'prepared' ? { direct: rawPrepared, other: raw } : { direct: raw, other: rawPrepared };

function listScenario(name: string, filter: Omit<TConversationListInput, 'limit'>): Scenario {
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

function searchScenario(name: string, q: string): Scenario {
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

const scenarios: Scenario[] = [
  (() => {
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
  })(),
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

const now = () => Number(process.hrtime.bigint()) / 1e6;
const loadAtStart = os.loadavg();
function p95(xs: number[]) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil(0.95 * s.length) - 1)]!;
}
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
};

const counts = (
  await sql`select (select count(*) from contacts)::int as contacts,
                   (select count(*) from conversations)::int as conversations,
                   (select count(*) from messages)::int as messages`
)[0] as { contacts: number; conversations: number; messages: number };
const [{ version }] = (await sql`select current_setting('server_version') as version`) as unknown as [
  { version: string },
];
process.stdout.write(
  `data: ${counts.contacts} contacts, ${counts.conversations} conversations, ${counts.messages} messages (Postgres ${version})\n`,
);

type Variant = 'caller' | 'direct' | 'other';
const VARIANTS: Variant[] = ['caller', 'direct', 'other'];
const runVariant = (s: Scenario, v: Variant) =>
  v === 'caller' ? s.viaCaller() : v === 'direct' ? s.direct() : s.other();

for (const s of scenarios) {
  for (let i = 0; i < warmup; i++) for (const v of VARIANTS) await runVariant(s, v);
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
for (let r = 0; r < rounds; r++) {
  for (const s of scenarios) {
    const round: Record<Variant, number[]> = { caller: [], direct: [], other: [] };
    for (let i = 0; i < iterations; i++) {
      // Rotate which goes first so none always meets a warmer cache.
      for (let k = 0; k < VARIANTS.length; k++) {
        const v = VARIANTS[(i + k) % VARIANTS.length]!;
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
  process.stdout.write(`round ${r + 1}/${rounds} done\n`);
}

const round2 = (x: number) => Math.round(x * 100) / 100;
const results = scenarios.map((s) => {
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
    otherProtocolMs: { p50: round2(median(e.other)), p95: round2(p95(e.other)) },
    ratioP95: round2(ratio),
    roundsP95Ms: e.rounds.map((x) => ({ caller: round2(x.caller), direct: round2(x.direct) })),
    pass: ratio <= RATIO_TARGET && directP95 < SQL_P95_TARGET_MS,
  };
});

const report = {
  date: new Date().toISOString(),
  loadAverageAtStart: loadAtStart,
  targets: { ratioP95: RATIO_TARGET, directP95Ms: SQL_P95_TARGET_MS },
  settings: { rounds, iterationsPerRound: iterations, warmup },
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

mkdirSync('bench', { recursive: true });
writeFileSync('bench/dashboard.json', `${JSON.stringify(report, null, 2)}\n`);
const md = [
  '# Dashboard read benchmark',
  '',
  `${report.date.slice(0, 10)}: ${counts.contacts} contacts, ${counts.conversations} conversations, ${counts.messages} messages`,
  `on Postgres ${version}, ${report.machine.cpus} × ${report.machine.cpuModel}, Node ${process.version}.`,
  `${rounds} rounds × ${iterations} calls per scenario, taking turns: the procedure through createCaller, the same SQL`,
  'through postgres.js sent the way the procedure sends it (named prepared statement, or unnamed statement planned',
  'per call), and the same SQL sent the other way (for information).',
  `Load average at the start: ${loadAtStart.map((x) => x.toFixed(1)).join(' / ')} (1 / 5 / 15 min).`,
  `Targets: procedure p95 ≤ ${RATIO_TARGET}× direct p95, direct p95 < ${SQL_P95_TARGET_MS} ms.`,
  '',
  '| scenario | procedure | statement | direct SQL p50 / p95 (ms) | procedure p50 / p95 (ms) | p95 ratio | result | SQL sent the other way p50 / p95 (ms) |',
  '|---|---|---|---|---|---|---|---|',
  ...results.map(
    (r) =>
      `| ${r.scenario} | ${r.procedure} | ${r.protocol} | ${r.directMs.p50} / ${r.directMs.p95} | ${r.callerMs.p50} / ${r.callerMs.p95} | ${r.ratioP95.toFixed(2)} | ${r.pass ? 'pass' : 'FAIL'} | ${r.otherProtocolMs.p50} / ${r.otherProtocolMs.p95} |`,
  ),
  '',
  'Reproduce: `DATABASE_URL=postgres://…/wcb_bench npx tsx scripts/generate-data.ts` then',
  '`DATABASE_URL=postgres://…/wcb_bench npx tsx scripts/bench-dashboard.ts`.',
  '',
].join('\n');
writeFileSync('bench/dashboard.md', md);
process.stdout.write(`${md}\n`);
await runtime.close();
process.exit(report.pass ? 0 : 1);
