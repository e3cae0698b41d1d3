import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { type Browser, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestRuntime, type TestRuntime } from '../helpers/runtime';
import { type ConsumerProject, copyDeclarationsAsSource, createConsumerProject } from './consumer-project';
import { CHROMIUM_FLAGS, chromiumPath, cleanEnv, ensureSdkBuilt, run } from './support';

/**
 * A Vite + React + TypeScript app with TanStack Query, installed with the sdk README's React line from the
 * packed tarball: it shows the system status through `useTRPC().stats.systemStatus.queryOptions()` and
 * creates a contact through a mutation, checked first with one router's contract.
 */
const MAIN_TSX = `import { QueryClient, QueryClientProvider, useMutation, useQuery } from '@tanstack/react-query';
import { createClient, isValidationError, type RouterOutputs, validationDetails } from '@whatsapp-crm/sdk';
import { ZContactCreateInput } from '@whatsapp-crm/sdk/contracts/crm';
import { TRPCProvider, useTRPC } from '@whatsapp-crm/sdk/react';
import { useState } from 'react';
import { createRoot } from 'react-dom/client';

const params = new URLSearchParams(location.hash.slice(1));
const queryClient = new QueryClient({ defaultOptions: { queries: { retry: false } } });
const trpcClient = createClient({ url: params.get('api') ?? '/trpc', apiKey: params.get('key') ?? '' });

type Contact = RouterOutputs['crm']['contacts']['create'];

function Contacts() {
  const trpc = useTRPC();
  const status = useQuery(trpc.stats.systemStatus.queryOptions());
  const create = useMutation(trpc.crm.contacts.create.mutationOptions());
  const [result, setResult] = useState('');
  const reachable: boolean | undefined = status.data?.database.reachable;

  async function add(email: string) {
    const parsed = ZContactCreateInput.safeParse({ phone: params.get('phone'), name: 'Ada', email });
    if (!parsed.success) {
      setResult('refused locally: ' + parsed.error.issues.map((i) => i.path.join('.')).join(','));
      return;
    }
    try {
      const contact: Contact = await create.mutateAsync(parsed.data);
      setResult('created ' + contact.id + ' ' + String(contact.createdAt instanceof Date));
    } catch (err) {
      setResult(isValidationError(err) ? 'invalid ' + Object.keys(validationDetails(err)?.fieldErrors ?? {}).join(',') : 'failed');
    }
  }

  return (
    <main>
      <p id="status">{status.isSuccess ? 'database ' + (reachable ? 'reachable' : 'down') : status.isError ? 'error' : 'loading'}</p>
      <button id="create" type="button" onClick={() => void add('ada@example.com')}>Create</button>
      <button id="bad" type="button" onClick={() => void add('not-an-email')}>Bad</button>
      <p id="result">{result}</p>
    </main>
  );
}

createRoot(document.getElementById('root')!).render(
  <QueryClientProvider client={queryClient}>
    <TRPCProvider trpcClient={trpcClient} queryClient={queryClient}>
      <Contacts />
    </TRPCProvider>
  </QueryClientProvider>,
);
`;

const INDEX_HTML = `<!doctype html>
<html lang="en">
  <head><meta charset="UTF-8" /><title>sdk react consumer</title></head>
  <body><div id="root"></div><script type="module" src="/src/main.tsx"></script></body>
</html>
`;

const VITE_CONFIG = `import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

// React, react-dom, TanStack Query, tRPC and zod in one chunk pass Vite's default 500 kB warning.
export default defineConfig({ plugins: [react()], build: { chunkSizeWarningLimit: 1000 } });
`;

/** A strict browser tsconfig as Vite's React template has it, plus the sdk's declarations as sources. */
function tsconfig(declarations: string[]) {
  return {
    compilerOptions: {
      target: 'ES2022',
      lib: ['ES2022', 'DOM', 'DOM.Iterable', 'ESNext.Disposable'],
      module: 'ESNext',
      moduleResolution: 'Bundler',
      jsx: 'react-jsx',
      types: [],
      strict: true,
      noUncheckedIndexedAccess: true,
      exactOptionalPropertyTypes: true,
      noUnusedLocals: true,
      skipLibCheck: true,
      noEmit: true,
      allowImportingTsExtensions: true,
    },
    files: ['src/main.tsx', 'vite.config.ts', ...declarations],
  };
}

/** Serves the built app (vite build's dist) on 127.0.0.1. */
function serveStatic(root: string): Promise<Server> {
  const server = createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const file = path.join(root, url.pathname === '/' ? 'index.html' : path.normalize(url.pathname));
    try {
      const body = await readFile(file);
      const type = file.endsWith('.js')
        ? 'text/javascript'
        : file.endsWith('.html')
          ? 'text/html'
          : 'text/plain';
      res.writeHead(200, { 'content-type': type }).end(body);
    } catch {
      res.writeHead(404).end();
    }
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

describe('a Vite + React + TanStack Query app using @whatsapp-crm/sdk/react', () => {
  let project: ConsumerProject;
  let test: TestRuntime | undefined;
  let web: Server | undefined;
  let browser: Browser | undefined;

  beforeAll(async () => {
    await ensureSdkBuilt();
    project = await createConsumerProject({
      readme: 'react',
      devDependencies: {
        vite: '^8.0.0',
        '@vitejs/plugin-react': '^6.0.0',
        '@types/react': '^19.0.0',
        '@types/react-dom': '^19.0.0',
      },
    });
    const declarations = await copyDeclarationsAsSource(project.dir, { react: true });
    await writeFile(path.join(project.dir, 'index.html'), INDEX_HTML);
    await writeFile(path.join(project.dir, 'vite.config.ts'), VITE_CONFIG);
    await mkdir(path.join(project.dir, 'src'));
    await writeFile(path.join(project.dir, 'src/main.tsx'), MAIN_TSX);
    await writeFile(path.join(project.dir, 'tsconfig.json'), JSON.stringify(tsconfig(declarations), null, 2));
  }, 600_000);

  afterAll(async () => {
    await browser?.close();
    await new Promise((r) => (web ? web.close(r) : r(undefined)));
    await test?.close();
    if (project) await rm(project.dir, { recursive: true, force: true });
  });

  it('installs with the README line: the tRPC packages at one version, no server package', async () => {
    expect(project.installCommands).toEqual([
      'npm install @whatsapp-crm/sdk @trpc/client@11.22.1 @trpc/server@11.22.1 @trpc/tanstack-react-query@11.22.1 @tanstack/react-query@5 react react-dom',
    ]);
    const version = async (pkg: string) =>
      (
        JSON.parse(await readFile(path.join(project.dir, 'node_modules', pkg, 'package.json'), 'utf8')) as {
          version: string;
        }
      ).version;
    expect(await version('@trpc/client')).toBe('11.22.1');
    expect(await version('@trpc/server')).toBe('11.22.1');
    expect(await version('@trpc/tanstack-react-query')).toBe('11.22.1');
    expect(await version('@whatsapp-crm/sdk')).toMatch(/^\d+\.\d+\.\d+$/);
  });

  it('type-checks under strict with the published declarations, against tRPC 11.22.1', async () => {
    const tsc = path.join(project.dir, 'node_modules/typescript/bin/tsc');
    const res = await run(process.execPath, [tsc, '-p', 'tsconfig.json', '--pretty', 'false'], {
      cwd: project.dir,
      env: cleanEnv(),
      timeoutMs: 240_000,
    });
    expect(res.stdout).toBe('');
    expect(res.code).toBe(0);
  }, 240_000);

  it('builds with vite, and runs in headless Chromium against a live server', async () => {
    const vite = path.join(project.dir, 'node_modules/vite/bin/vite.js');
    const built = await run(process.execPath, [vite, 'build', '--logLevel', 'warn'], {
      cwd: project.dir,
      env: cleanEnv(),
      timeoutMs: 240_000,
    });
    expect(built.stderr).toBe('');
    expect(built.code).toBe(0);
    const html = await readFile(path.join(project.dir, 'dist/index.html'), 'utf8');
    expect(html).toMatch(/<script type="module" crossorigin src="\/assets\/index-[\w-]+\.js">/);

    const executablePath = await chromiumPath();
    if (!executablePath) throw new Error('Chromium is not installed: apt-get install -y chromium');
    web = await serveStatic(path.join(project.dir, 'dist'));
    const origin = `http://127.0.0.1:${(web.address() as AddressInfo).port}`;
    test = await createTestRuntime({ CORS_ORIGINS: origin });
    const app = await test.app();
    await app.listen({ port: 0, host: '127.0.0.1' });
    const api = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}/trpc`;
    const key = await test.key('agent');

    browser = await chromium.launch({ executablePath, args: CHROMIUM_FLAGS });
    const page = await browser.newPage();
    const pageErrors: string[] = [];
    page.on('pageerror', (err) => pageErrors.push(err.message));
    const phone = '+14155550166';
    await page.goto(
      `${origin}/#api=${encodeURIComponent(api)}&key=${key}&phone=${encodeURIComponent(phone)}`,
    );
    await expect
      .poll(() => page.locator('#status').textContent(), { timeout: 20_000 })
      .toBe('database reachable');

    await page.locator('#bad').click();
    await expect
      .poll(() => page.locator('#result').textContent(), { timeout: 10_000 })
      .toBe('refused locally: email');

    await page.locator('#create').click();
    await expect.poll(() => page.locator('#result').textContent(), { timeout: 10_000 }).toMatch(/^created /);
    const [, id, isDate] = (await page.locator('#result').textContent())!.split(' ');
    expect(isDate).toBe('true');
    const stored = await test.caller('admin').crm.contacts.get({ id: id! });
    expect(stored).toMatchObject({ phone, name: 'Ada', email: 'ada@example.com' });
    expect(pageErrors).toEqual([]);
  }, 420_000);
});
