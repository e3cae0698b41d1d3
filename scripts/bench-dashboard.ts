import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { PgDialect } from 'drizzle-orm/pg-core';
import { loadConfig } from '../server/config';
import type { TConversationListInput } from '../server/contracts';
import * as convq from '../server/db/queries/conversations';
import { likePattern } from '../server/db/queries/keyset';
import { dashboardQuery } from '../server/db/queries/stats';
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
  direct: () => Promise<unknown>;
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

/** Runs a rendered query as postgres.js would for anyone writing it by hand. */
const raw = (q: { sql: string; params: unknown[] }) => sql.unsafe(q.sql, q.params as never[]);

function listScenario(name: string, filter: Omit<TConversationListInput, 'limit'>): Scenario {
  const input = { limit: 25, ...filter };
  const rendered = convq.listConversations(db, { ...input, after: null }).toSQL();
  return {
    name,
    procedure: 'conversations.list',
    input,
    viaCaller: () => caller.conversations.list(input),
    direct: () => raw(rendered),
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
  };
}

const scenarios: Scenario[] = [
  {
    name: 'dashboard',
    procedure: 'stats.dashboard',
    input: {},
    viaCaller: () => caller.stats.dashboard({}),
    direct: () => raw(dialect.sqlToQuery(dashboardQuery('UTC'))),
  },
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

for (const s of scenarios) {
  for (let i = 0; i < warmup; i++) {
    await s.viaCaller();
    await s.direct();
  }
}

const samples = new Map(
  scenarios.map((s) => [
    s.name,
    { caller: [] as number[], direct: [] as number[], rounds: [] as { caller: number; direct: number }[] },
  ]),
);
for (let r = 0; r < rounds; r++) {
  for (const s of scenarios) {
    const roundCaller: number[] = [];
    const roundDirect: number[] = [];
    for (let i = 0; i < iterations; i++) {
      // Alternate which goes first so neither always meets a warmer cache.
      const order = i % 2 === 0 ? (['caller', 'direct'] as const) : (['direct', 'caller'] as const);
      for (const which of order) {
        const t0 = now();
        await (which === 'caller' ? s.viaCaller() : s.direct());
        (which === 'caller' ? roundCaller : roundDirect).push(now() - t0);
      }
    }
    const entry = samples.get(s.name)!;
    entry.caller.push(...roundCaller);
    entry.direct.push(...roundDirect);
    entry.rounds.push({ caller: p95(roundCaller), direct: p95(roundDirect) });
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
    ratioP95: round2(ratio),
    roundsP95Ms: e.rounds.map((x) => ({ caller: round2(x.caller), direct: round2(x.direct) })),
    pass: ratio <= RATIO_TARGET && directP95 < SQL_P95_TARGET_MS,
  };
});

const report = {
  date: new Date().toISOString(),
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
  `${rounds} rounds × ${iterations} calls per scenario, procedure (createCaller) and direct SQL (postgres.js) alternating.`,
  `Targets: procedure p95 ≤ ${RATIO_TARGET}× direct p95, direct p95 < ${SQL_P95_TARGET_MS} ms.`,
  '',
  '| scenario | procedure | direct p50 / p95 (ms) | procedure p50 / p95 (ms) | p95 ratio | result |',
  '|---|---|---|---|---|---|',
  ...results.map(
    (r) =>
      `| ${r.scenario} | ${r.procedure} | ${r.directMs.p50} / ${r.directMs.p95} | ${r.callerMs.p50} / ${r.callerMs.p95} | ${r.ratioP95.toFixed(2)} | ${r.pass ? 'pass' : 'FAIL'} |`,
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
