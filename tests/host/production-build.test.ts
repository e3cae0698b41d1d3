import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort } from '../helpers/reliability';

const dataDir = mkdtempSync(path.join(os.tmpdir(), 'wcb-build-'));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

describe('production build', () => {
  it('builds, and the built server starts with node on a fresh data folder and answers /ready', async () => {
    const build = spawnSync(process.execPath, ['scripts/build.mjs'], { encoding: 'utf8' });
    expect(build.status, build.stderr).toBe(0);
    // Only our code is bundled: packages load from node_modules, and nothing runs through tsx.
    const bundle = readFileSync('dist/server/main.js', 'utf8');
    expect(bundle).toMatch(/from "fastify"/);
    expect(bundle).not.toMatch(/from "tsx|require\("tsx/);

    const port = await freePort();
    const child = spawn(process.execPath, ['dist/server/main.js'], {
      env: {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        NODE_ENV: 'production',
        DATA_DIR: dataDir,
        PORT: String(port),
        LOG_LEVEL: 'info',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      let status = 0;
      const deadline = Date.now() + 90_000;
      while (status !== 200 && Date.now() < deadline && child.exitCode === null) {
        status = await fetch(`http://127.0.0.1:${port}/ready`).then(
          (r) => r.status,
          () => 0,
        );
        if (status !== 200) await new Promise((r) => setTimeout(r, 200));
      }
      expect(status, out).toBe(200);
      // Migrations were found next to the build and applied; production logs are JSON lines.
      const started = out.split('\n').find((l) => l.includes('"server started"'));
      expect(JSON.parse(started ?? 'null'), out).toMatchObject({ role: 'all', database: 'embedded' });
    } finally {
      child.kill('SIGTERM');
    }
    expect(await exited).toBe(0);
  }, 150_000);
});
