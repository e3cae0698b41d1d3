import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/**
 * Builds (`npm run build`), then starts the built server with `npm start` (node on dist/, no tsx) and
 * NODE_ENV=production on a fresh data folder with no other settings, as a new deployment would; checks
 * /health and /ready, reads the admin key printed on first start and makes one authenticated tRPC call
 * with it.
 */
const build = spawnSync('npm', ['run', 'build', '--silent'], { stdio: 'inherit' });
if (build.status !== 0) {
  console.error('npm run build failed');
  process.exit(1);
}
const dataDir = mkdtempSync(path.join(os.tmpdir(), 'wcb-smoke-'));
const port = String(20000 + Math.floor(Math.random() * 20000));
const child = spawn('npm', ['start', '--silent'], {
  env: {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    NODE_ENV: 'production',
    DATA_DIR: dataDir,
    PORT: port,
    LOG_LEVEL: 'warn',
  },
  stdio: ['ignore', 'pipe', 'pipe'],
  detached: true,
});
let output = '';
child.stdout.on('data', (d) => (output += d));
child.stderr.on('data', (d) => (output += d));
const base = `http://127.0.0.1:${port}`;

function stop() {
  try {
    process.kill(-child.pid!, 'SIGTERM');
  } catch {}
}

async function main() {
  const deadline = Date.now() + 90_000;
  let health: Response | undefined;
  while (Date.now() < deadline) {
    health = await fetch(`${base}/health`).catch(() => undefined);
    if (health) break;
    if (child.exitCode !== null) throw new Error(`server exited early:\n${output}`);
    await new Promise((r) => setTimeout(r, 250));
  }
  if (!health?.ok) throw new Error(`/health did not answer:\n${output}`);
  console.log('health:', JSON.stringify(await health.json()));
  const ready = await fetch(`${base}/ready`);
  if (ready.status !== 200) throw new Error(`/ready answered ${ready.status}: ${await ready.text()}`);
  console.log('ready:', JSON.stringify(await ready.json()));

  const key = /wcb_[A-Za-z0-9_-]+/.exec(output)?.[0];
  if (!key) throw new Error(`no admin key was printed on first start:\n${output}`);
  const res = await fetch(`${base}/trpc/stats.systemStatus`, { headers: { authorization: `Bearer ${key}` } });
  const body = (await res.json()) as { result: { data: { json: { database: unknown } } } };
  if (res.status !== 200)
    throw new Error(`stats.systemStatus answered ${res.status}: ${JSON.stringify(body)}`);
  console.log('stats.systemStatus:', JSON.stringify(body.result.data.json.database));
  const anon = await fetch(`${base}/trpc/stats.systemStatus`);
  if (anon.status !== 401) throw new Error(`an unauthenticated call answered ${anon.status}`);
  console.log('smoke test passed');
}

main()
  .then(
    () => 0,
    (err) => {
      console.error(err instanceof Error ? err.message : err);
      return 1;
    },
  )
  .then(async (code) => {
    stop();
    await new Promise((r) => setTimeout(r, 1500));
    rmSync(dataDir, { recursive: true, force: true });
    process.exit(code);
  });
