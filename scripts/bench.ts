import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { benchCampaigns } from './bench/campaigns';
import { benchDashboard } from './bench/dashboard';
import { machine, postgresVersion, type ScenarioResult } from './bench/lib';
import { benchMemory } from './bench/memory';
import { benchPipeline, benchPipelineKnowledge, benchWebhook } from './bench/pipeline';
import { benchSdkSize } from './bench/sdk-size';
import { benchSdkTypes } from './bench/sdk-types';
import { benchStartup } from './bench/startup';
import { benchThroughput } from './bench/throughput';
import { benchTrpcRead } from './bench/trpc-read';
import { parseCli } from './lib/command-line';

/**
 * The benchmark suite: each scenario measures a baseline and the subject alternately in one run and
 * reports the ratio. Writes bench/report.json and bench/report.md. Needs a Postgres server
 * (BENCH_DATABASE_URL, default postgres://postgres@127.0.0.1:5432/postgres); load stays on loopback.
 *
 *   npm run bench [-- --quick] [-- --only webhook,pipeline,pipeline-knowledge,throughput,campaigns,trpc-read,memory,startup,dashboard,sdk-types,sdk-size]
 *
 * --quick shrinks every scenario (smaller data, shorter runs) so the whole suite is a CI smoke test of
 * under two minutes; its figures are noisier than a full run's.
 */
const cli = parseCli({
  usage:
    'Usage: npm run bench -- [--quick] [--only webhook,pipeline,pipeline-knowledge,throughput,campaigns,trpc-read,memory,dashboard,sdk-types,sdk-size]',
  options: { quick: { type: 'boolean' }, only: { type: 'string' } },
});
const quick = cli.values.quick === true;
const only = cli.values.only !== undefined ? new Set(cli.values.only.split(',')) : null;
const pgUrl = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

type Run = () => Promise<ScenarioResult | ScenarioResult[]>;
const scenarios: Array<[string, Run]> = [
  ['webhook', () => benchWebhook(pgUrl, quick)],
  ['pipeline', () => benchPipeline(pgUrl, quick)],
  ['pipeline-knowledge', () => benchPipelineKnowledge(pgUrl, quick, 1000)],
  ['throughput', () => benchThroughput(pgUrl, quick)],
  ['campaigns', () => benchCampaigns(pgUrl, quick)],
  ['trpc-read', () => benchTrpcRead(pgUrl, quick)],
  ['memory', () => benchMemory(pgUrl, quick)],
  ['startup', () => benchStartup(pgUrl, quick)],
  ['dashboard', () => benchDashboard(pgUrl, quick)],
  ['sdk-types', () => benchSdkTypes(quick)],
  ['sdk-size', () => benchSdkSize()],
];
if (only) {
  const unknown = [...only].filter((k) => !scenarios.some(([key]) => key === k));
  if (unknown.length) cli.usageError(`unknown scenario(s): ${unknown.join(', ')}`);
}

const started = Date.now();
const info = { ...machine(), postgres: await postgresVersion(pgUrl) };
process.stdout.write(
  `${info.cpus} × ${info.cpuModel}, ${info.memoryGiB} GiB, Node ${info.node}, Postgres ${info.postgres}, ` +
    `load average ${info.loadAverage.join(' / ')}\n`,
);
const results: ScenarioResult[] = [];
const durations: Record<string, number> = {};
for (const [key, run] of scenarios) {
  if (only && !only.has(key)) continue;
  process.stdout.write(`running ${key}…\n`);
  const t0 = Date.now();
  // A scenario that throws is reported as failed and the others still run.
  const out = await run().catch(
    (err: unknown): ScenarioResult => ({
      name: key,
      metric: 'did not complete',
      unit: '',
      target: '',
      rounds: [],
      ratio: { median: Number.NaN, min: Number.NaN, max: Number.NaN },
      pass: false,
      notes: [
        `error: ${err instanceof Error ? err.message : String(err)}`.replace(/\s+/g, ' ').slice(0, 500),
      ],
    }),
  );
  durations[key] = Math.round((Date.now() - t0) / 100) / 10;
  for (const r of Array.isArray(out) ? out : [out]) {
    r.mode = quick ? 'quick' : 'full';
    r.date = new Date().toISOString().slice(0, 10);
    results.push(r);
    process.stdout.write(
      `  ${r.name}: ${r.pass ? 'PASS' : 'FAIL'} median ratio ${r.ratio.median.toFixed(2)}\n`,
    );
    for (const n of r.notes) process.stdout.write(`    ${n}\n`);
  }
  process.stdout.write(`  (${durations[key]} s)\n`);
}
const totalS = Math.round((Date.now() - started) / 1000);

// A partial run (--only) keeps the other scenarios' latest results in the shared report.
const reported = [...results];
if (only && existsSync('bench/report.json')) {
  const previous = JSON.parse(readFileSync('bench/report.json', 'utf8')) as { results?: ScenarioResult[] };
  const ran = new Set(results.map((r) => r.name));
  reported.unshift(...(previous.results ?? []).filter((r) => !ran.has(r.name)));
}
const report = {
  date: new Date().toISOString(),
  quick,
  only: only ? [...only] : null,
  machine: info,
  durationsS: { ...durations, total: totalS },
  results: reported,
};
mkdirSync('bench', { recursive: true });
writeFileSync('bench/report.json', `${JSON.stringify(report, null, 2)}\n`);
const fmt = (x: number) => (Number.isFinite(x) ? x.toFixed(2) : 'n/a');
const m = report.machine;
const md = [
  `Benchmarks of ${report.date.slice(0, 10)}${quick ? ' (quick)' : ''}${only ? ` (only ${[...only].join(', ')}; other rows from earlier runs)` : ''} ` +
    `on ${m.cpus} × ${m.cpuModel}, ${m.memoryGiB} GiB, Node ${m.node}, Postgres ${m.postgres}; ` +
    `load average at the start ${m.loadAverage.join(' / ')} (1 / 5 / 15 min); ${totalS} s.`,
  '',
  '| scenario | metric | ratio median (min–max) | target | result | run |',
  '|---|---|---|---|---|---|',
  ...reported.map(
    (r) =>
      `| ${r.name} | ${r.metric} | ${fmt(r.ratio.median)} (${fmt(r.ratio.min)}–${fmt(r.ratio.max)}) | ${r.target} | ${r.pass ? 'pass' : 'FAIL'} | ${r.mode ?? '?'} ${r.date ?? ''} |`,
  ),
  '',
  ...reported.flatMap((r) => [
    `**${r.name}**`,
    '',
    ...r.notes.map((n) => `- ${n}`),
    '',
    ...(r.table
      ? [
          r.table.title,
          '',
          `| ${r.table.header.join(' | ')} |`,
          `|${r.table.header.map(() => '---|').join('')}`,
          ...r.table.rows.map((row) => `| ${row.join(' | ')} |`),
          '',
        ]
      : []),
  ]),
].join('\n');
writeFileSync('bench/report.md', `${md}\n`);
process.stdout.write(`\nwrote bench/report.json and bench/report.md (${totalS} s)\n`);
process.exit(results.every((r) => r.pass) ? 0 : 1);
