import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';
import { ensureSdkBuilt, repoRoot } from '../../tests/sdk/support';
import { type ScenarioResult, summarize } from './lib';

/**
 * What the sdk adds to a browser app: tiny entries importing the sdk the way an app does, bundled with
 * esbuild (minified, ESM, browser) from the workspace's built package, and gzipped. The subject is
 * `createClient` plus one contract from one router's entry (`@whatsapp-crm/sdk/contracts/crm`); the baseline
 * is what any tRPC app pays: `createTRPCClient` with `httpBatchLink` and superjson, plus the same kind of
 * form schema written with zod directly. Target: the subject at most 40 KB gzip.
 *
 * The last rows show where the client's bytes go beyond the baseline: the same plain tRPC client with the
 * links `createClient` builds (Server-Sent Events for subscriptions, then also the `'stream'` and `'single'`
 * transports, which the `transport` option can choose at run time, so every app bundles them).
 */
export const SDK_SIZE_TARGET_BYTES = 40 * 1024;

export const SDK_SIZE_ENTRIES: Record<string, string> = {
  'baseline: tRPC client + superjson + one zod schema': `import { createTRPCClient, httpBatchLink } from '@trpc/client';
import superjson from 'superjson';
import * as z from 'zod';
export const client = createTRPCClient({ links: [httpBatchLink({ url: '/trpc', transformer: superjson })] });
export const Contact = z.object({ phone: z.string().trim().min(5).max(32), name: z.string().max(200).nullish(), email: z.email().nullish() });
`,
  'createClient + ZContactCreateInput (contracts/crm)': `import { createClient } from '@whatsapp-crm/sdk';
import { ZContactCreateInput } from '@whatsapp-crm/sdk/contracts/crm';
export const client = createClient({ url: '/trpc', getToken: () => sessionStorage.getItem('key') });
export const valid = (form: unknown) => ZContactCreateInput.safeParse(form).success;
`,
  'createClient alone': `import { createClient } from '@whatsapp-crm/sdk';
export const client = createClient({ url: '/trpc', getToken: () => sessionStorage.getItem('key') });
`,
  'ZContactCreateInput alone (contracts/crm)': `import { ZContactCreateInput } from '@whatsapp-crm/sdk/contracts/crm';
export const valid = (form: unknown) => ZContactCreateInput.safeParse(form).success;
`,
  'createClient + ZContactCreateInput from the root entry': `import { createClient, ZContactCreateInput } from '@whatsapp-crm/sdk';
export const client = createClient({ url: '/trpc', getToken: () => sessionStorage.getItem('key') });
export const valid = (form: unknown) => ZContactCreateInput.safeParse(form).success;
`,
  'zod alone: one z.string()': `import * as z from 'zod';
export const valid = (v: unknown) => z.string().safeParse(v).success;
`,
  'tRPC client: httpBatchLink + superjson': `import { createTRPCClient, httpBatchLink } from '@trpc/client';
import superjson from 'superjson';
export const client = createTRPCClient({ links: [httpBatchLink({ url: '/trpc', transformer: superjson })] });
`,
  'tRPC client: + httpSubscriptionLink (SSE)': `import { createTRPCClient, httpBatchLink, httpSubscriptionLink, splitLink } from '@trpc/client';
import superjson from 'superjson';
const o = { url: '/trpc', transformer: superjson };
export const client = createTRPCClient({
  links: [splitLink({ condition: (op) => op.type === 'subscription', true: httpSubscriptionLink(o), false: httpBatchLink(o) })],
});
`,
  'tRPC client: + httpSubscriptionLink + httpBatchStreamLink + httpLink': `import { createTRPCClient, httpBatchLink, httpBatchStreamLink, httpLink, httpSubscriptionLink, splitLink } from '@trpc/client';
import superjson from 'superjson';
const o = { url: '/trpc', transformer: superjson };
const pick = (t: string) => (t === 'single' ? httpLink(o) : t === 'stream' ? httpBatchStreamLink(o) : httpBatchLink(o));
export const client = (t: string) => createTRPCClient({
  links: [splitLink({ condition: (op) => op.type === 'subscription', true: httpSubscriptionLink(o), false: pick(t) })],
});
`,
};

export interface BundleSize {
  name: string;
  minifiedBytes: number;
  gzipBytes: number;
  /** Minified bytes per package in the bundle. */
  packages: Record<string, number>;
}

export async function bundleSize(name: string, source: string): Promise<BundleSize> {
  const result = await build({
    stdin: { contents: source, resolveDir: repoRoot, loader: 'ts' },
    bundle: true,
    minify: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    write: false,
    metafile: true,
    logLevel: 'silent',
  });
  const code = result.outputFiles[0]!.contents;
  const packages: Record<string, number> = {};
  for (const [file, info] of Object.entries(Object.values(result.metafile.outputs)[0]!.inputs)) {
    const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(file);
    const key = m ? m[1]! : file.startsWith('sdk/') ? '@whatsapp-crm/sdk' : 'app';
    packages[key] = (packages[key] ?? 0) + info.bytesInOutput;
  }
  return { name, minifiedBytes: code.length, gzipBytes: gzipSync(code, { level: 9 }).length, packages };
}

const kb = (bytes: number) => `${(bytes / 1024).toFixed(1)} KB`;

export async function measureSdkSize(): Promise<BundleSize[]> {
  await ensureSdkBuilt();
  const out: BundleSize[] = [];
  for (const [name, source] of Object.entries(SDK_SIZE_ENTRIES)) out.push(await bundleSize(name, source));
  return out;
}

export async function benchSdkSize(): Promise<ScenarioResult> {
  const sizes = await measureSdkSize();
  const [baseline, subject] = sizes;
  return summarize('sdk-size', {
    metric: 'gzip bytes of createClient + one contract vs a plain tRPC client + one zod schema',
    unit: 'bytes',
    target: `createClient + one contract ≤ ${kb(SDK_SIZE_TARGET_BYTES)} gzip`,
    // The sizes are deterministic: one round.
    rounds: [{ baseline: baseline!.gzipBytes, subject: subject!.gzipBytes }],
    pass: () => subject!.gzipBytes <= SDK_SIZE_TARGET_BYTES,
    notes: [
      `${subject!.name}: ${kb(subject!.gzipBytes)} gzip (${kb(subject!.minifiedBytes)} minified); ` +
        `baseline ${kb(baseline!.gzipBytes)} gzip`,
      'esbuild, minified ESM for the browser, gzip level 9; packages in minified KB per row below',
    ],
    table: {
      title: 'sdk bundle sizes (esbuild, minified, gzip -9)',
      header: ['entry', 'gzip', 'minified', 'largest parts (minified)'],
      rows: sizes.map((s) => [
        s.name,
        kb(s.gzipBytes),
        kb(s.minifiedBytes),
        Object.entries(s.packages)
          .sort((a, b) => b[1] - a[1])
          .filter(([, bytes]) => bytes >= 512)
          .map(([pkg, bytes]) => `${pkg} ${kb(bytes)}`)
          .join(', '),
      ]),
    },
  });
}
