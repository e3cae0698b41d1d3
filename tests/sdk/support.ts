import { type SpawnOptions, spawn } from 'node:child_process';
import { mkdir, readdir, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const sdkDir = path.join(repoRoot, 'sdk');
export const sdkDist = path.join(sdkDir, 'dist');

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/** Runs a command to completion and returns its exit code and output; never throws on a non-zero exit. */
export function run(
  command: string,
  args: string[],
  opts: SpawnOptions & { timeoutMs?: number } = {},
): Promise<RunResult> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { ...opts, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (d) => {
      stdout += d;
    });
    child.stderr?.on('data', (d) => {
      stderr += d;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 120_000);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, ms: Date.now() - started });
    });
  });
}

/** The environment for npm and tools run outside the repository: npm's own run-script variables removed. */
export function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (/^npm_/i.test(k) || k === 'INIT_CWD' || k.startsWith('VITEST') || k === 'NODE_OPTIONS') continue;
    env[k] = v;
  }
  return { ...env, ...extra };
}

async function newestMtime(dir: string): Promise<number> {
  let newest = 0;
  let entries: import('node:fs').Dirent[];
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch {
    return 0;
  }
  for (const e of entries) {
    if (e.name === 'node_modules' || e.name === 'dist' || e.name.startsWith('.')) continue;
    const p = path.join(dir, e.name);
    if (e.isDirectory()) newest = Math.max(newest, await newestMtime(p));
    else newest = Math.max(newest, (await stat(p)).mtimeMs);
  }
  return newest;
}

async function mtime(file: string): Promise<number> {
  try {
    return (await stat(file)).mtimeMs;
  } catch {
    return 0;
  }
}

/** True when dist is missing or older than anything it is built from (the sdk's sources or the server's). */
export async function sdkDistIsStale(): Promise<boolean> {
  const built = Math.min(
    await mtime(path.join(sdkDist, 'index.js')),
    await mtime(path.join(sdkDist, 'index.d.ts')),
  );
  if (!built) return true;
  const inputs = Math.max(
    await newestMtime(path.join(sdkDir, 'src')),
    await newestMtime(path.join(sdkDir, 'scripts')),
    await mtime(path.join(sdkDir, 'package.json')),
    await mtime(path.join(sdkDir, 'tsconfig.build.json')),
    await newestMtime(path.join(repoRoot, 'server')),
  );
  return inputs > built;
}

const lockDir = path.join(sdkDir, '.build-lock');

/**
 * Builds the sdk when dist is missing or stale. Test files run in parallel, so one build at a time: a
 * lock folder (mkdir is atomic) makes the others wait and then find a fresh dist.
 */
export function ensureSdkBuilt(): Promise<{ built: boolean; ms: number }> {
  // Once per test file: sources edited while a file runs do not rebuild dist under its feet.
  ensured ??= buildIfStale();
  return ensured;
}
let ensured: Promise<{ built: boolean; ms: number }> | undefined;

async function buildIfStale(): Promise<{ built: boolean; ms: number }> {
  const started = Date.now();
  for (;;) {
    if (!(await sdkDistIsStale())) return { built: false, ms: Date.now() - started };
    try {
      await mkdir(lockDir);
    } catch {
      // Another file is building; a lock left by a killed run expires.
      if (Date.now() - (await mtime(lockDir)) > 330_000) await rm(lockDir, { recursive: true, force: true });
      await new Promise((r) => setTimeout(r, 250));
      continue;
    }
    try {
      if (!(await sdkDistIsStale())) return { built: false, ms: Date.now() - started };
      const res = await run(process.execPath, [path.join(sdkDir, 'scripts/build.mjs')], {
        cwd: sdkDir,
        env: cleanEnv(),
        timeoutMs: 300_000,
      });
      if (res.code !== 0) throw new Error(`sdk build failed (${res.code}):\n${res.stdout}\n${res.stderr}`);
      return { built: true, ms: Date.now() - started };
    } finally {
      await rm(lockDir, { recursive: true, force: true });
    }
  }
}

/** The path of Debian's Chromium, or null when it is not installed. */
/** Flags for Debian's headless Chromium on this machine (no sandbox as root; no background network). */
export const CHROMIUM_FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

export async function chromiumPath(): Promise<string | null> {
  for (const p of [process.env.CHROMIUM_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser']) {
    if (p && (await mtime(p))) return p;
  }
  return null;
}
