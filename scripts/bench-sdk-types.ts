/**
 * Type-check cost of the published sdk for its users: `tsc --extendedDiagnostics` over consumer files in a
 * project that installed the packed sdk, outside the repository.
 *
 * Three files are checked, alternately, for several rounds:
 *   baseline       imports @trpc/client and zod only: what the dependencies cost with no router at all;
 *   calls          the sdk's Node example (examples/node/calls.ts), a typical script;
 *   every-procedure names the input and output type and the client method of every procedure, so its cost
 *                  grows with the router.
 * The report gives, per file, the median and range of check time, the deterministic counts (types,
 * instantiations) and the ratio to the baseline, in bench/sdk-types.json and bench/sdk-types.md.
 *
 *   npx tsx scripts/bench-sdk-types.ts [--rounds 5] [--quick] [--skip-build]
 */
import { copyFile, mkdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { appRouter } from '../server/trpc/router';
import { CONSUMER_TSCONFIG, createConsumerProject } from '../tests/sdk/consumer-project';
import { cleanEnv, ensureSdkBuilt, repoRoot, run, sdkDir } from '../tests/sdk/support';
import { parseArgs } from './_cli';

interface Sample {
  checkMs: number;
  totalMs: number;
  types: number;
  instantiations: number;
  memoryKb: number;
  files: number;
}

const args = parseArgs(process.argv.slice(2));
const rounds = Math.max(1, Number(args.rounds ?? (args.quick ? 3 : 5)));
const outDir = path.join(repoRoot, 'bench');

const BASELINE = `import { createTRPCClient, httpBatchLink } from '@trpc/client';
import { z } from 'zod';

const Contact = z.object({ id: z.uuid(), phone: z.string(), createdAt: z.date() });
export type Contact = z.infer<typeof Contact>;
export const client = createTRPCClient({ links: [httpBatchLink({ url: 'http://127.0.0.1:3000/trpc' })] });
`;

/**
 * A file that calls every procedure through a function typed with its RouterInputs and RouterOutputs, as
 * a dashboard's data layer would: the compiler resolves and compares every input and output type.
 */
function everyProcedureSource(): string {
  const procedures = appRouter._def.procedures as unknown as Record<string, { _def: { type: string } }>;
  const lines = [
    'import {',
    '  createClient,',
    '  type RouterInputs,',
    '  type RouterOutputs,',
    '  type SubscriptionData,',
    "} from '@whatsapp-crm/sdk';",
    '',
    "const client = createClient({ url: 'http://127.0.0.1:3000/trpc', apiKey: 'key' });",
  ];
  Object.keys(procedures)
    .sort()
    .forEach((p, i) => {
      const index = p
        .split('.')
        .map((k) => `['${k}']`)
        .join('');
      const type = procedures[p]!._def.type;
      if (type === 'subscription') {
        lines.push(
          `export const s${i} = (input: RouterInputs${index}, onData: (d: SubscriptionData<RouterOutputs${index}>) => void) =>`,
          `  client.${p}.subscribe(input, { onData });`,
        );
      } else {
        const call = type === 'mutation' ? 'mutate' : 'query';
        lines.push(
          `export const c${i} = (input: RouterInputs${index}): Promise<RouterOutputs${index}> =>`,
          `  client.${p}.${call}(input);`,
        );
      }
    });
  return `${lines.join('\n')}\n`;
}

function parseDiagnostics(text: string): Sample {
  const num = (label: string) => {
    const m = new RegExp(`^${label}:\\s+([\\d.]+)`, 'm').exec(text);
    if (!m) throw new Error(`tsc --extendedDiagnostics printed no "${label}":\n${text}`);
    return Number(m[1]);
  };
  return {
    checkMs: num('Check time') * 1000,
    totalMs: num('Total time') * 1000,
    types: num('Types'),
    instantiations: num('Instantiations'),
    memoryKb: num('Memory used'),
    files: num('Files'),
  };
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};
const round1 = (x: number) => Math.round(x * 10) / 10;
const round2 = (x: number) => Math.round(x * 100) / 100;

async function main() {
  const started = Date.now();
  if (!args['skip-build']) {
    const built = await ensureSdkBuilt();
    console.log(built.built ? `sdk built in ${built.ms} ms` : 'sdk dist is up to date');
  }
  console.log('packing the sdk and installing it into a temporary project...');
  const project = await createConsumerProject({ eventsource: '4.1.1' });
  const files: Record<string, string> = {
    baseline: BASELINE,
    calls: '',
    'every-procedure': everyProcedureSource(),
  };
  await writeFile(path.join(project.dir, 'baseline.ts'), files.baseline!);
  await writeFile(path.join(project.dir, 'every-procedure.ts'), files['every-procedure']!);
  await copyFile(path.join(sdkDir, 'examples/node/calls.ts'), path.join(project.dir, 'calls.ts'));
  // As most applications have it: library declarations are not re-checked, so what is measured is the
  // cost of resolving and instantiating the API's types in the consumer's own code.
  const compilerOptions = { ...CONSUMER_TSCONFIG.compilerOptions, skipLibCheck: true, noEmit: true };
  for (const name of Object.keys(files)) {
    await writeFile(
      path.join(project.dir, `tsconfig.${name}.json`),
      JSON.stringify({ compilerOptions, files: [`${name}.ts`] }, null, 2),
    );
  }

  const tsc = path.join(project.dir, 'node_modules/typescript/bin/tsc');
  const samples: Record<string, Sample[]> = Object.fromEntries(Object.keys(files).map((n) => [n, []]));
  for (let r = 0; r < rounds; r++) {
    for (const name of Object.keys(files)) {
      const res = await run(
        process.execPath,
        [tsc, '-p', `tsconfig.${name}.json`, '--extendedDiagnostics', '--pretty', 'false'],
        { cwd: project.dir, env: cleanEnv(), timeoutMs: 300_000 },
      );
      if (res.code !== 0) throw new Error(`tsc failed on ${name}.ts:\n${res.stdout}\n${res.stderr}`);
      samples[name]!.push(parseDiagnostics(res.stdout));
    }
    console.log(`round ${r + 1}/${rounds} done`);
  }

  const base = samples.baseline!;
  const summary = Object.entries(samples).map(([name, list]) => {
    const check = list.map((s) => s.checkMs);
    const ratios = list.map((s, i) => s.checkMs / Math.max(1, base[i]!.checkMs));
    return {
      file: `${name}.ts`,
      rounds: list.length,
      checkMs: {
        median: round1(median(check)),
        min: round1(Math.min(...check)),
        max: round1(Math.max(...check)),
      },
      totalMs: { median: round1(median(list.map((s) => s.totalMs))) },
      checkRatioToBaseline: {
        median: round2(median(ratios)),
        min: round2(Math.min(...ratios)),
        max: round2(Math.max(...ratios)),
      },
      types: list[0]!.types,
      instantiations: list[0]!.instantiations,
      memoryKb: median(list.map((s) => s.memoryKb)),
      files: list[0]!.files,
    };
  });

  const report = {
    name: 'sdk consumer type-check cost',
    createdAt: new Date().toISOString(),
    machine: {
      cpus: os.cpus().length,
      cpuModel: os.cpus()[0]?.model ?? 'unknown',
      memoryGb: round1(os.totalmem() / 1024 ** 3),
      node: process.version,
      platform: `${os.platform()} ${os.release()}`,
    },
    typescript: '5.9.3',
    procedures: Object.keys(appRouter._def.procedures).length,
    compilerOptions,
    results: summary,
    durationMs: Date.now() - started,
  };

  const rows = summary.map(
    (s) =>
      `| ${s.file} | ${s.checkMs.median} (${s.checkMs.min}–${s.checkMs.max}) | ${s.checkRatioToBaseline.median}× ` +
      `(${s.checkRatioToBaseline.min}–${s.checkRatioToBaseline.max}) | ${s.totalMs.median} | ${s.types} | ` +
      `${s.instantiations} | ` +
      `${Math.round(s.memoryKb / 1024)} |`,
  );
  const md = [
    '# sdk consumer type-check cost',
    '',
    `${report.createdAt}, ${report.machine.cpus} × ${report.machine.cpuModel}, Node ${report.machine.node}, ` +
      `TypeScript ${report.typescript}, ${report.procedures} procedures, ${rounds} rounds (files checked alternately).`,
    '',
    '`tsc --extendedDiagnostics` in a project that installed the packed sdk (strict, skipLibCheck on).',
    '`baseline.ts` uses @trpc/client and zod without the API; `every-procedure.ts` names every procedure.',
    '',
    '| file | check ms, median (min–max) | check time ÷ baseline | total ms | types | instantiations | memory MB |',
    '|---|---|---|---|---|---|---|',
    ...rows,
    '',
  ].join('\n');

  await mkdir(outDir, { recursive: true });
  await writeFile(path.join(outDir, 'sdk-types.json'), `${JSON.stringify(report, null, 2)}\n`);
  await writeFile(path.join(outDir, 'sdk-types.md'), md);
  // The repository's formatter checks bench/ too; give the report its layout.
  await run(
    path.join(repoRoot, 'node_modules/.bin/biome'),
    ['format', '--write', 'bench/sdk-types.json', 'bench/sdk-types.md'],
    {
      cwd: repoRoot,
    },
  );
  await rm(project.dir, { recursive: true, force: true });
  console.log(md);
  console.log(
    `written: bench/sdk-types.json, bench/sdk-types.md (${Math.round(report.durationMs / 1000)} s)`,
  );
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
