import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { freePort } from '../../tests/helpers/reliability';
import { rssMiB, type ScenarioResult, scratchDatabase, sleep, summarize } from './lib';

/** How long after /ready first answers 200 the resident set size is read (start-up work settles). */
const SETTLE_MS = 1000;

interface Started {
  readyMs: number;
  rssMiB: number;
}

/**
 * Starts one server process, measures process start → first 200 from /ready, reads its RSS after a
 * short settle, and stops it.
 */
async function startOnce(args: string[], env: Record<string, string>): Promise<Started> {
  const port = String(await freePort());
  const t0 = performance.now();
  const child: ChildProcess = spawn(process.execPath, args, {
    env: { PATH: process.env.PATH, HOME: process.env.HOME, PORT: port, HOST: '127.0.0.1', ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let err = '';
  child.stderr?.on('data', (d) => (err += d));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  try {
    const deadline = Date.now() + 60_000;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`${args.join(' ')} exited early: ${err}`);
      const ok = await fetch(`http://127.0.0.1:${port}/ready`).then(
        (r) => r.status === 200,
        () => false,
      );
      if (ok) break;
      if (Date.now() > deadline) throw new Error(`${args.join(' ')} was not ready in 60 s: ${err}`);
      await sleep(20);
    }
    const readyMs = performance.now() - t0;
    await sleep(SETTLE_MS);
    return { readyMs, rssMiB: rssMiB(child.pid!) };
  } finally {
    child.kill('SIGTERM');
    await exited;
  }
}

/**
 * Start-up of the production build against the development runner: the same server, once as the esbuild
 * bundle (`node dist/server/main.js`, built first with `npm run build`) and once through tsx
 * (`node --import tsx server/main.ts`, as `npm run dev` runs it), both web and workers on one scratch
 * Postgres database that a warm-up start has migrated. Rounds alternate the two. Two figures per start:
 * milliseconds from process start to the first 200 from /ready, and the resident set size (VmRSS) one
 * second later. Baseline: tsx; subject: the build. Pass: the build starts no slower (median ratio ≤ 1.0)
 * and uses no more memory (median ratio ≤ 1.05) than tsx.
 */
export async function benchStartup(pgUrl: string, quick: boolean): Promise<ScenarioResult[]> {
  const build = spawnSync(process.execPath, ['scripts/build.mjs'], { encoding: 'utf8' });
  if (build.status !== 0) throw new Error(`npm run build failed: ${build.stderr || build.stdout}`);

  const roundsN = quick ? 3 : 7;
  const db = await scratchDatabase(pgUrl);
  const env = {
    DATABASE_URL: db.url,
    LOG_LEVEL: 'warn',
    BOOTSTRAP_ADMIN_KEY: 'false',
    NODE_ENV: 'production',
  };
  const tsx = ['--import', 'tsx', 'server/main.ts'];
  const built = ['dist/server/main.js'];
  const time: Array<{ baseline: number; subject: number }> = [];
  const rss: Array<{ baseline: number; subject: number }> = [];
  try {
    await startOnce(built, env); // migrates the scratch database; not measured
    for (let i = 0; i < roundsN; i++) {
      // Alternate which goes first, so neither always starts on the warmer page cache.
      const [a, b] = i % 2 === 0 ? [tsx, built] : [built, tsx];
      const first = await startOnce(a, env);
      const second = await startOnce(b, env);
      const [dev, prod] = a === tsx ? [first, second] : [second, first];
      time.push({ baseline: dev.readyMs, subject: prod.readyMs });
      rss.push({ baseline: dev.rssMiB, subject: prod.rssMiB });
    }
  } finally {
    await db.drop();
  }
  const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)] ?? Number.NaN;
  const figures = (rows: Array<{ baseline: number; subject: number }>, unit: string, digits: number) =>
    `median: built ${median(rows.map((r) => r.subject)).toFixed(digits)} ${unit}, tsx ` +
    `${median(rows.map((r) => r.baseline)).toFixed(digits)} ${unit} (${rows.length} starts each, alternating)`;
  return [
    summarize('startup-time', {
      metric: 'process start → /ready 200: built ÷ tsx',
      unit: 'ms',
      target: '≤ 1.00',
      rounds: time,
      pass: (m) => m <= 1.0,
      notes: [figures(time, 'ms', 0), 'web and workers on Postgres, migrations already applied'],
    }),
    summarize('startup-rss', {
      metric: 'RSS 1 s after /ready: built ÷ tsx',
      unit: 'MiB',
      target: '≤ 1.05',
      rounds: rss,
      pass: (m) => m <= 1.05,
      notes: [figures(rss, 'MiB', 1)],
    }),
  ];
}
