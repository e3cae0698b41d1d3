/**
 * Type-check cost of the published sdk for its users (the logic lives in scripts/bench/sdk-types.ts,
 * which `npm run bench` also runs as its `sdk-types` scenario): `tsc --extendedDiagnostics` over
 * baseline.ts, the sdk's Node example and every-procedure.ts, alternately, for several rounds.
 * Writes bench/sdk-types.json and bench/sdk-types.md.
 *
 *   npx tsx scripts/bench-sdk-types.ts [--rounds 5] [--quick] [--skip-build]
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { repoRoot, run } from '../tests/sdk/support';
import { measureSdkTypes, sdkTypesMarkdown } from './bench/sdk-types';
import { parseCli } from './lib/command-line';

const cli = parseCli({
  usage: 'Usage: npx tsx scripts/bench-sdk-types.ts [--rounds 5] [--quick] [--skip-build]',
  options: { rounds: { type: 'string' }, quick: { type: 'boolean' }, 'skip-build': { type: 'boolean' } },
});
const args = cli.values;
const rounds = cli.int('rounds', args.quick ? 3 : 5, 1);
const outDir = path.join(repoRoot, 'bench');

async function main() {
  const { samples: _, ...report } = await measureSdkTypes({
    rounds,
    files: ['baseline', 'calls', 'every-procedure'],
    skipBuild: args['skip-build'] === true,
    log: (line) => console.log(line),
  });
  const md = sdkTypesMarkdown({ ...report, samples: {} });
  await mkdir(outDir, { recursive: true });
  const { rounds: __, ...json } = report;
  await writeFile(path.join(outDir, 'sdk-types.json'), `${JSON.stringify(json, null, 2)}\n`);
  await writeFile(path.join(outDir, 'sdk-types.md'), md);
  // The repository's formatter checks bench/ too; give the report its layout.
  await run(
    path.join(repoRoot, 'node_modules/.bin/biome'),
    ['format', '--write', 'bench/sdk-types.json', 'bench/sdk-types.md'],
    { cwd: repoRoot },
  );
  console.log(md);
  console.log(
    `written: bench/sdk-types.json, bench/sdk-types.md (${Math.round(report.durationMs / 1000)} s)`,
  );
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
