// Builds dist/index.js and dist/contracts.js (esbuild, ESM, dependencies external) and one bundled dist/index.d.ts
// (rollup-plugin-dts, which inlines the router's types), then checks what they refer to.
import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { rollup } from 'rollup';
import { dts } from 'rollup-plugin-dts';
import { checkDist } from './check-dts.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dist = path.join(root, 'dist');
const external = ['@trpc/client', '@trpc/server', 'superjson', 'zod'];
const isExternal = (id) => external.some((name) => id === name || id.startsWith(`${name}/`));

const started = Date.now();
await rm(dist, { recursive: true, force: true });
await mkdir(dist, { recursive: true });

// Two modules: the client, and the zod contracts it re-exports. With `sideEffects: false`, an app's bundler
// leaves contracts.js (and zod with it) out entirely when the app imports no contract.
const common = {
  bundle: true,
  format: 'esm',
  platform: 'neutral',
  target: 'es2022',
  external,
  tsconfig: path.join(root, 'tsconfig.build.json'),
  legalComments: 'none',
  logLevel: 'warning',
};
const contractsChunk = {
  name: 'contracts-chunk',
  setup(b) {
    b.onResolve({ filter: /^\.\/contracts$/ }, () => ({ path: './contracts.js', external: true }));
  },
};
await build({
  ...common,
  entryPoints: [path.join(root, 'src/index.ts')],
  outfile: path.join(dist, 'index.js'),
  plugins: [contractsChunk],
});
await build({
  ...common,
  entryPoints: [path.join(root, 'src/contracts.ts')],
  outfile: path.join(dist, 'contracts.js'),
});

const bundle = await rollup({
  input: path.join(root, 'src/index.ts'),
  external: isExternal,
  plugins: [dts({ tsconfig: path.join(root, 'tsconfig.build.json') })],
  onwarn(warning, warn) {
    if (warning.code === 'CIRCULAR_DEPENDENCY') return;
    warn(warning);
  },
});
await bundle.write({ file: path.join(dist, 'index.d.ts'), format: 'es' });
await bundle.close();

const problems = await checkDist(dist);
if (problems.length) {
  console.error(`sdk build failed its check:\n  ${problems.join('\n  ')}`);
  process.exit(1);
}
console.log(`sdk built into ${path.relative(process.cwd(), dist) || 'dist'} in ${Date.now() - started} ms`);
