/**
 * Bundles the inbox page's script from the built sdk (`@whatsapp-crm/sdk` resolves to sdk/dist, as in an
 * application that installed the package) into examples/inbox/dist/app.js. With `--check`, type-checks
 * app.ts against the sdk's bundled declarations first.
 *
 *   npm run build -w sdk && npx tsx sdk/examples/inbox/build.ts [--check]
 */
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build } from 'esbuild';

export const inboxDir = path.dirname(fileURLToPath(import.meta.url));

/** Type-checks app.ts; returns the compiler's output, empty when there is nothing to report. */
export function checkInbox(): { ok: boolean; output: string } {
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  const res = spawnSync(
    process.execPath,
    [tsc, '-p', path.join(inboxDir, 'tsconfig.json'), '--pretty', 'false'],
    {
      encoding: 'utf8',
    },
  );
  return { ok: res.status === 0, output: `${res.stdout}${res.stderr}`.trim() };
}

export async function buildInbox(): Promise<{ file: string; bytes: number }> {
  const file = path.join(inboxDir, 'dist/app.js');
  const result = await build({
    entryPoints: [path.join(inboxDir, 'app.ts')],
    outfile: file,
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    minify: true,
    sourcemap: true,
    metafile: true,
    logLevel: 'warning',
  });
  return { file, bytes: result.metafile.outputs[path.relative(process.cwd(), file)]?.bytes ?? 0 };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  if (process.argv.includes('--check')) {
    const checked = checkInbox();
    if (!checked.ok) {
      console.error(checked.output);
      process.exit(1);
    }
  }
  const out = await buildInbox();
  console.log(`built ${path.relative(process.cwd(), out.file)} (${Math.round(out.bytes / 1024)} KiB)`);
}
