import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from './_cli';
import { benchCampaigns } from './bench/campaigns';
import { machine, type ScenarioResult } from './bench/lib';
import { benchPipeline, benchWebhook } from './bench/pipeline';

/**
 * The benchmark suite: each scenario measures a baseline and the subject alternately in one run and
 * reports the ratio. Writes bench/report.json and bench/report.md. Needs a Postgres server
 * (BENCH_DATABASE_URL, default postgres://postgres@127.0.0.1:5432/postgres); load stays on loopback.
 *
 *   npm run bench [-- --quick] [-- --only webhook,pipeline]
 */
const args = parseArgs(process.argv.slice(2));
const quick = Boolean(args.quick);
const only = typeof args.only === 'string' ? new Set(args.only.split(',')) : null;
const pgUrl = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

const scenarios: Array<[string, () => Promise<ScenarioResult>]> = [
  ['webhook', () => benchWebhook(pgUrl, quick)],
  ['pipeline', () => benchPipeline(pgUrl, quick)],
  ['campaigns', () => benchCampaigns(pgUrl, quick)],
];

const results: ScenarioResult[] = [];
for (const [key, run] of scenarios) {
  if (only && !only.has(key)) continue;
  process.stdout.write(`running ${key}…\n`);
  const r = await run();
  results.push(r);
  process.stdout.write(`  ${r.pass ? 'PASS' : 'FAIL'} median ratio ${r.ratio.median.toFixed(2)}\n`);
  for (const n of r.notes) process.stdout.write(`    ${n}\n`);
}

// A partial run (--only) keeps the other scenarios' latest results in the shared report.
const reported = [...results];
if (only && existsSync('bench/report.json')) {
  const previous = JSON.parse(readFileSync('bench/report.json', 'utf8')) as { results?: ScenarioResult[] };
  const ran = new Set(results.map((r) => r.name));
  reported.unshift(...(previous.results ?? []).filter((r) => !ran.has(r.name)));
}
const report = { date: new Date().toISOString(), quick, machine: machine(), results: reported };
mkdirSync('bench', { recursive: true });
writeFileSync('bench/report.json', `${JSON.stringify(report, null, 2)}\n`);
const fmt = (x: number) => (Number.isFinite(x) ? x.toFixed(2) : 'n/a');
const md = [
  `Benchmarks of ${report.date.slice(0, 10)}${quick ? ' (quick)' : ''} on ${report.machine.cpus} × ${report.machine.cpuModel}, ${report.machine.memoryGiB} GiB, Node ${report.machine.node}.`,
  '',
  '| scenario | metric | ratio median (min–max) | target | result |',
  '|---|---|---|---|---|',
  ...reported.map(
    (r) =>
      `| ${r.name} | ${r.metric} | ${fmt(r.ratio.median)} (${fmt(r.ratio.min)}–${fmt(r.ratio.max)}) | ${r.target} | ${r.pass ? 'pass' : 'FAIL'} |`,
  ),
  '',
  ...reported.flatMap((r) => [`**${r.name}**`, '', ...r.notes.map((n) => `- ${n}`), '']),
].join('\n');
writeFileSync('bench/report.md', `${md}\n`);
process.stdout.write(`\nwrote bench/report.json and bench/report.md\n`);
process.exit(results.every((r) => r.pass) ? 0 : 1);
