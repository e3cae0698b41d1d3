import { copyFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { appRouter } from '../../server/trpc/router';
import { CONSUMER_TSCONFIG, createConsumerProject } from '../../tests/sdk/consumer-project';
import { cleanEnv, ensureSdkBuilt, run, sdkDir } from '../../tests/sdk/support';
import { type ScenarioResult, summarize } from './lib';

/**
 * Type-check cost of the published sdk for its users: `tsc --extendedDiagnostics` over consumer files in a
 * project that installed the packed sdk, outside the repository.
 *
 * Three files are checked, alternately, for several rounds:
 *   baseline       imports @trpc/client and zod only: what the dependencies cost with no router at all;
 *   calls          the sdk's Node example (examples/node/calls.ts), a typical script;
 *   every-procedure names the input and output type and the client method of every procedure, so its cost
 *                  grows with the router.
 * Used by `npm run bench` (the `sdk-types` scenario) and scripts/bench-sdk-types.ts (its own report).
 */
export interface Sample {
  checkMs: number;
  totalMs: number;
  types: number;
  instantiations: number;
  memoryKb: number;
  files: number;
}

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
export function everyProcedureSource(): string {
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

export const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};
export const round1 = (x: number) => Math.round(x * 10) / 10;
export const round2 = (x: number) => Math.round(x * 100) / 100;

export type SdkFile = 'baseline' | 'calls' | 'every-procedure';

export interface SdkTypesRun {
  name: string;
  createdAt: string;
  machine: { cpus: number; cpuModel: string; memoryGb: number; node: string; platform: string };
  typescript: string;
  procedures: number;
  compilerOptions: Record<string, unknown>;
  rounds: number;
  samples: Partial<Record<SdkFile, Sample[]>>;
  results: Array<{
    file: string;
    rounds: number;
    checkMs: { median: number; min: number; max: number };
    totalMs: { median: number };
    checkRatioToBaseline: { median: number; min: number; max: number };
    types: number;
    instantiations: number;
    memoryKb: number;
    files: number;
  }>;
  durationMs: number;
}

/**
 * Packs and installs the sdk into a temporary project, then type-checks the chosen files in turn for
 * `rounds` rounds (each tsc run bounded to 5 minutes). `baseline` is always among them.
 */
export async function measureSdkTypes(opts: {
  rounds: number;
  files: SdkFile[];
  skipBuild?: boolean;
  log?: (line: string) => void;
}): Promise<SdkTypesRun> {
  const log = opts.log ?? (() => {});
  const started = Date.now();
  if (!opts.skipBuild) {
    const built = await ensureSdkBuilt();
    log(built.built ? `sdk built in ${built.ms} ms` : 'sdk dist is up to date');
  }
  log('packing the sdk and installing it into a temporary project...');
  const project = await createConsumerProject();
  try {
    const names: SdkFile[] = ['baseline', ...opts.files.filter((f) => f !== 'baseline')];
    const sources: Record<SdkFile, () => Promise<void>> = {
      baseline: () => writeFile(path.join(project.dir, 'baseline.ts'), BASELINE),
      calls: () => copyFile(path.join(sdkDir, 'examples/node/calls.ts'), path.join(project.dir, 'calls.ts')),
      'every-procedure': () =>
        writeFile(path.join(project.dir, 'every-procedure.ts'), everyProcedureSource()),
    };
    // As most applications have it: library declarations are not re-checked, so what is measured is the
    // cost of resolving and instantiating the API's types in the consumer's own code.
    const compilerOptions = { ...CONSUMER_TSCONFIG.compilerOptions, skipLibCheck: true, noEmit: true };
    for (const name of names) {
      await sources[name]();
      await writeFile(
        path.join(project.dir, `tsconfig.${name}.json`),
        JSON.stringify({ compilerOptions, files: [`${name}.ts`] }, null, 2),
      );
    }

    const tsc = path.join(project.dir, 'node_modules/typescript/bin/tsc');
    const samples: Partial<Record<SdkFile, Sample[]>> = Object.fromEntries(names.map((n) => [n, []]));
    for (let r = 0; r < opts.rounds; r++) {
      for (const name of names) {
        const res = await run(
          process.execPath,
          [tsc, '-p', `tsconfig.${name}.json`, '--extendedDiagnostics', '--pretty', 'false'],
          { cwd: project.dir, env: cleanEnv(), timeoutMs: 300_000 },
        );
        if (res.code !== 0) throw new Error(`tsc failed on ${name}.ts:\n${res.stdout}\n${res.stderr}`);
        samples[name]!.push(parseDiagnostics(res.stdout));
      }
      log(`round ${r + 1}/${opts.rounds} done`);
    }

    const base = samples.baseline!;
    const results = names.map((name) => {
      const list = samples[name]!;
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
    return {
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
      rounds: opts.rounds,
      samples,
      results,
      durationMs: Date.now() - started,
    };
  } finally {
    await rm(project.dir, { recursive: true, force: true });
  }
}

/** The Markdown report of one run (bench/sdk-types.md). */
export function sdkTypesMarkdown(report: SdkTypesRun): string {
  const rows = report.results.map(
    (s) =>
      `| ${s.file} | ${s.checkMs.median} (${s.checkMs.min}–${s.checkMs.max}) | ${s.checkRatioToBaseline.median}× ` +
      `(${s.checkRatioToBaseline.min}–${s.checkRatioToBaseline.max}) | ${s.totalMs.median} | ${s.types} | ` +
      `${s.instantiations} | ` +
      `${Math.round(s.memoryKb / 1024)} |`,
  );
  return [
    '# sdk consumer type-check cost',
    '',
    `${report.createdAt}, ${report.machine.cpus} × ${report.machine.cpuModel}, Node ${report.machine.node}, ` +
      `TypeScript ${report.typescript}, ${report.procedures} procedures, ${report.rounds} rounds (files checked alternately).`,
    '',
    '`tsc --extendedDiagnostics` in a project that installed the packed sdk (strict, skipLibCheck on).',
    '`baseline.ts` uses @trpc/client and zod without the API; `every-procedure.ts` names every procedure.',
    '',
    '| file | check ms, median (min–max) | check time ÷ baseline | total ms | types | instantiations | memory MB |',
    '|---|---|---|---|---|---|---|',
    ...rows,
    '',
  ].join('\n');
}

/** The type-check time of a consumer naming every procedure may grow to this multiple of the baseline file's. */
const SDK_RATIO_GUARD = 5;

/**
 * The suite's sdk-types scenario: baseline.ts against every-procedure.ts (and the Node example in a full
 * run), 5 rounds, check time from `tsc --extendedDiagnostics` (10 ms resolution). Mostly watched; the
 * pass mark is a guard against a large regression: every-procedure ≤ 5 × baseline at the median.
 */
export async function benchSdkTypes(quick: boolean): Promise<ScenarioResult> {
  const files: SdkFile[] = quick ? ['baseline', 'every-procedure'] : ['baseline', 'calls', 'every-procedure'];
  const report = await measureSdkTypes({ rounds: 5, files });
  const base = report.samples.baseline!;
  const every = report.samples['every-procedure']!;
  const totalMs = (s: Sample[]) => median(s.map((x) => x.totalMs));
  const notes = report.results.map(
    (r) =>
      `${r.file}: check ${r.checkMs.median} ms (${r.checkMs.min}–${r.checkMs.max}), total ${r.totalMs.median} ms, ` +
      `${r.types} types, ${r.instantiations} instantiations, ${Math.round(r.memoryKb / 1024)} MB`,
  );
  notes.push(
    `${report.procedures} procedures; whole tsc run (startup included) ${round1(totalMs(every))} ms vs ${round1(totalMs(base))} ms; ` +
      'strict, skipLibCheck on, TypeScript 5.9.3, the packed sdk installed in a temporary project',
  );
  return summarize('sdk consumer type-check', {
    metric: 'tsc check time of a file naming every procedure / a file using @trpc/client and zod only',
    unit: 'ms',
    target: `watched; guard ≤ ${SDK_RATIO_GUARD}×`,
    rounds: every.map((s, i) => ({ baseline: Math.max(1, base[i]!.checkMs), subject: s.checkMs })),
    pass: (m) => m <= SDK_RATIO_GUARD,
    notes,
  });
}
