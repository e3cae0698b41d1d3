// Checks the package as it would be published: packs it (after a build, see `npm run build`), then runs
// publint and @arethetypeswrong/cli on the tarball. Exits non-zero when either finds a problem.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const tmp = mkdtempSync(path.join(os.tmpdir(), 'wcb-sdk-pack-'));

function run(command, args) {
  const res = spawnSync(command, args, { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  return { code: res.status ?? 1, out: `${res.stdout}${res.stderr}` };
}

let failed = false;
try {
  const packed = run('npm', ['pack', '--json', '--pack-destination', tmp]);
  if (packed.code !== 0) throw new Error(`npm pack failed:\n${packed.out}`);
  const tarball = path.join(tmp, JSON.parse(packed.out.slice(packed.out.indexOf('[')))[0].filename);

  // publint: the exports map, file formats and fields; warnings count as failures.
  const publint = run(process.execPath, [bin('publint'), 'run', tarball, '--strict', '--level', 'warning']);
  console.log(`publint:\n${publint.out.trim()}`);
  if (publint.code !== 0) failed = true;

  // attw: each entry's types for `import` and `require` under node16/nodenext and bundler resolution.
  // The `node16` profile leaves out node10 (`moduleResolution: "node"`), which cannot read subpath exports.
  const attw = run(process.execPath, [
    bin('attw'),
    tarball,
    '--profile',
    'node16',
    '--format',
    'table-flipped',
    '--no-color',
  ]);
  console.log(`attw:\n${attw.out.trim()}`);
  if (attw.code !== 0) failed = true;
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
if (failed) {
  console.error('sdk package check failed');
  process.exit(1);
}
console.log('sdk package check: publint and attw found no problem');

/** A tool's CLI script, resolved from the workspace's node_modules. */
function bin(name) {
  const scripts = { publint: 'publint/src/cli.js', attw: '@arethetypeswrong/cli/dist/index.js' };
  return path.resolve(root, '..', 'node_modules', scripts[name]);
}
