import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanEnv, ensureSdkBuilt, repoRoot, run, sdkDir, sdkDist } from './support';

const CHECK = path.join(sdkDir, 'scripts/check-dts.mjs');

describe('the sdk build check', () => {
  let tmp: string;

  beforeAll(async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), 'wcb-sdk-check-'));
  });
  afterAll(async () => {
    await rm(tmp, { recursive: true, force: true });
  });

  async function checkDist(files: { 'index.d.ts': string; 'index.js': string }) {
    const dir = path.join(tmp, String(Math.random()).slice(2));
    await mkdir(dir);
    for (const [name, text] of Object.entries(files)) await writeFile(path.join(dir, name), text);
    return run(process.execPath, [CHECK, dir], { env: cleanEnv() });
  }

  it('fails when the declarations import a server package or a server path', async () => {
    const res = await checkDist({
      'index.d.ts': [
        "import { PgTable } from 'drizzle-orm/pg-core';",
        "import type { FastifyInstance } from 'fastify';",
        "import type { Logger } from 'pino';",
        "import { z } from 'zod';",
        "export type Db = import('@electric-sql/pglite').PGlite;",
        "export type Boss = import('pg-boss').PgBoss;",
        "export * from '../../server/db/client';",
        "export type { Sql } from 'postgres';",
        'export declare const x: PgTable | FastifyInstance | Logger | z.ZodString;',
      ].join('\n'),
      'index.js': "import superjson from 'superjson';\nexport const s = superjson;\n",
    });
    expect(res.code).toBe(1);
    for (const name of [
      'drizzle-orm/pg-core',
      'fastify',
      'pino',
      '@electric-sql/pglite',
      'pg-boss',
      'postgres',
      'the path ../../server/db/client',
    ]) {
      expect(res.stderr).toContain(name);
    }
    expect(res.stderr).not.toContain('zod');
  });

  it("fails when a declaration names the server's context or services", async () => {
    const res = await checkDist({
      'index.d.ts': [
        "import { z } from 'zod';",
        'interface Services { auth: { bootstrapAdminKey(): Promise<string> } }',
        'export interface Context { services: Services }',
        'export declare const x: z.ZodString;',
      ].join('\n'),
      'index.js': 'export const x = 1;\n',
    });
    expect(res.code).toBe(1);
    expect(res.stderr).toContain("index.d.ts names the server's Services");
    expect(res.stderr).toContain("index.d.ts names the server's bootstrapAdminKey");
  });

  it('accepts relative imports of files inside dist, and refuses those that leave it', async () => {
    const dir = path.join(tmp, String(Math.random()).slice(2));
    await mkdir(path.join(dir, 'chunks'), { recursive: true });
    await writeFile(path.join(dir, 'chunks/types.d.ts'), 'export type A = string;\n');
    await writeFile(path.join(dir, 'chunks/types.js'), 'export {};\n');
    await writeFile(path.join(dir, 'index.d.ts'), "export type { A } from './chunks/types.js';\n");
    await writeFile(
      path.join(dir, 'index.js'),
      "export * from './chunks/types.js';\nexport * from '../server.js';\n",
    );
    const res = await run(process.execPath, [CHECK, dir], { env: cleanEnv() });
    expect(res.code).toBe(1);
    expect(res.stderr).toContain('index.js refers to the path ../server.js');
    expect(res.stderr).not.toContain('chunks/types.js');
  });

  it('fails when the JavaScript imports a package the sdk does not declare', async () => {
    const res = await checkDist({
      'index.d.ts': "export { z } from 'zod';\n",
      'index.js':
        "import { drizzle } from 'drizzle-orm/postgres-js';\nimport left from 'left-pad';\nexport { drizzle, left };\n",
    });
    expect(res.code).toBe(1);
    expect(res.stderr).toContain('index.js refers to the server package drizzle-orm/postgres-js');
    expect(res.stderr).toContain('index.js refers to left-pad, not a declared dependency');
  });

  it('lets an app bundle leave zod out when it imports no contract', async () => {
    await ensureSdkBuilt();
    const bundle = async (source: string) => {
      // Resolved from the repository, where @whatsapp-crm/sdk is the workspace package (its dist).
      const result = await build({
        stdin: { contents: source, resolveDir: repoRoot, loader: 'ts' },
        bundle: true,
        write: false,
        format: 'esm',
        platform: 'browser',
        metafile: true,
        logLevel: 'silent',
      });
      // Modules that put code into the output (a module read and then dropped contributes 0 bytes).
      const output = Object.values(result.metafile.outputs)[0]!;
      return Object.entries(output.inputs)
        .filter(([, info]) => info.bytesInOutput > 0)
        .map(([file]) => file);
    };
    const clientOnly = await bundle(
      "import { createClient, isNotFound } from '@whatsapp-crm/sdk';\n" +
        "export const c = createClient({ url: '/trpc', apiKey: 'k' });\nexport { isNotFound };\n",
    );
    expect(clientOnly.some((f) => f.includes('node_modules/@trpc/client/'))).toBe(true);
    expect(
      clientOnly.filter((f) => f.includes('node_modules/zod/') || /sdk\/dist\/(chunks|contracts)\//.test(f)),
    ).toEqual([]);
    const withContract = await bundle("export { ZContactCreateInput } from '@whatsapp-crm/sdk';\n");
    expect(withContract.some((f) => f.includes('node_modules/zod/'))).toBe(true);
    // One router's contracts: that router's schemas, none of the other routers'.
    const oneRouter = await bundle(
      "export { ZContactCreateInput } from '@whatsapp-crm/sdk/contracts/crm';\n",
    );
    expect(oneRouter.some((f) => f.includes('node_modules/zod/'))).toBe(true);
    expect(
      oneRouter.filter((f) => /sdk\/dist\/chunks\/(campaigns|leads|stats|keys|system|settings)\./.test(f)),
    ).toEqual([]);
    expect(oneRouter.some((f) => f.includes('node_modules/@trpc/'))).toBe(false);
    // The contracts import zod as a namespace, so zod's locales (all but English) stay out.
    expect(oneRouter.filter((f) => /node_modules\/zod\/v4\/locales\/(?!en\.)/.test(f))).toEqual([]);
  }, 420_000);

  it('passes the built package, whose declarations name only @trpc, superjson and zod', async () => {
    await ensureSdkBuilt();
    const res = await run(process.execPath, [CHECK, sdkDist], { env: cleanEnv() });
    expect(res.stderr).toBe('');
    expect(res.code).toBe(0);
  }, 420_000);
});
