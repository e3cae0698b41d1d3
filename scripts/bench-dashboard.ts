import { mkdirSync, writeFileSync } from 'node:fs';
import { fail } from './_cli';
import { dashboardMarkdown, measureDashboard } from './bench/dashboard';
import { parseCli } from './lib/command-line';

/**
 * Dashboard read speed on one large data set (see scripts/generate-data.ts): each scenario runs the
 * procedure through createCaller and the very same SQL through postgres.js directly, alternating call
 * by call, for several rounds (the logic lives in scripts/bench/dashboard.ts, which `npm run bench`
 * also runs on a 100k and a 1M message data set). Targets: the procedure's p95 within 1.3× the direct
 * SQL's p95, and the direct SQL's p95 under 100 ms. Writes bench/dashboard.json and bench/dashboard.md.
 *
 *   DATABASE_URL=postgres://postgres@127.0.0.1:5432/wcb_bench npx tsx scripts/bench-dashboard.ts \
 *     [--rounds 7] [--iterations 40] [--warmup 10]
 */
const cli = parseCli({
  usage:
    'Usage: DATABASE_URL=postgres://… npx tsx scripts/bench-dashboard.ts [--rounds 7] [--iterations 40] [--warmup 10]',
  options: { rounds: { type: 'string' }, iterations: { type: 'string' }, warmup: { type: 'string' } },
});
const rounds = cli.int('rounds', 7, 5);
const iterations = cli.int('iterations', 40, 5);
const warmup = cli.int('warmup', 10, 0);

const url = process.env.DATABASE_URL;
if (!url) fail('Set DATABASE_URL to a Postgres database filled by scripts/generate-data.ts.');

const report = await measureDashboard(url, {
  rounds,
  iterations,
  warmup,
  other: true,
  log: (line) => process.stdout.write(`${line}\n`),
});
mkdirSync('bench', { recursive: true });
writeFileSync('bench/dashboard.json', `${JSON.stringify(report, null, 2)}\n`);
const md = dashboardMarkdown(report);
writeFileSync('bench/dashboard.md', md);
process.stdout.write(`${md}\n`);
process.exit(report.pass ? 0 : 1);
