// `npm run build`: bundles the server and the scripts production runs into dist/ with esbuild.
//
// Packages stay external (production installs them with `npm ci --omit=dev`), so PGlite's WASM and
// extension files, Scalar's page assets and every other file a package reads from disk load from
// node_modules as they do in development. Our own code is bundled per entry.
//
// Each entry is written two folders below the project root (dist/server/main.js, dist/scripts/*.js),
// like its source, because code that finds files by path does so relative to its own module:
// server/db/migrate.ts resolves `../../migrations` from import.meta.url. persona.json is read from the
// working directory (PERSONA_PATH), so the process starts in the project root.

import { rmSync } from 'node:fs';
import path from 'node:path';
import { build } from 'esbuild';

const root = path.resolve(import.meta.dirname, '..');

/** What production runs: the server, the migrator and the API-key tool. */
export const ENTRIES = {
  'server/main': 'server/main.ts',
  'scripts/migrate': 'scripts/migrate.ts',
  'scripts/keys': 'scripts/keys.ts',
};

rmSync(path.join(root, 'dist'), { recursive: true, force: true });
const result = await build({
  absWorkingDir: root,
  entryPoints: ENTRIES,
  outdir: 'dist',
  bundle: true,
  packages: 'external',
  platform: 'node',
  format: 'esm',
  target: 'node24',
  sourcemap: 'linked',
  // Class and function names stay readable in stack traces and in `err.name` checks.
  keepNames: true,
  metafile: true,
  logLevel: 'warning',
});

for (const [file, out] of Object.entries(result.metafile.outputs)) {
  if (file.endsWith('.js')) process.stdout.write(`${file}  ${(out.bytes / 1024).toFixed(0)} KB\n`);
}
