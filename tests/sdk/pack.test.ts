import { access, readdir, readFile, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestRuntime, type TestRuntime } from '../helpers/runtime';
import {
  type ConsumerProject,
  copyDeclarationsAsSource,
  createConsumerProject,
  readJson,
  typecheck,
  writeConsumerFiles,
} from './consumer-project';
import { cleanEnv, ensureSdkBuilt, run, sdkDir } from './support';

/** Inputs the compiler must refuse, each marked with the error it must produce on that line. */
const WRONG_INPUT = `import { createClient, type RouterInputs } from '@whatsapp-crm/sdk';

const client = createClient({ url: 'http://127.0.0.1:9/trpc', apiKey: 'key' });
export const numberForPhone = () => client.crm.contacts.create.mutate({ phone: 12345 }); // expect TS2322
export const unknownField: RouterInputs['crm']['contacts']['create'] = { phone: '+1', nickname: 'x' }; // expect TS2353
export const noSuchProcedure = () => client.crm.contacts.remove.mutate({ id: 'x' }); // expect TS2339
export const queryAsMutation = () => client.crm.contacts.get.mutate({ id: 'x' }); // expect TS2339
export const bothCredentials = createClient({ url: 'x', apiKey: 'a', getToken: () => 'b' }); // expect TS2345
`;

/**
 * A CommonJS script: TypeScript compiles a `.cts` file to `require()` calls, which resolve through the
 * package's `require` condition (dist/*.cjs, typed by dist/*.d.cts). It also imports one router's contracts.
 */
const CJS_SCRIPT = `import { createClient, isNotFound, type RouterOutputs } from '@whatsapp-crm/sdk';
import { ZContactCreateInput } from '@whatsapp-crm/sdk/contracts/crm';

const client = createClient({ url: process.env.API_URL ?? '', apiKey: process.env.API_KEY ?? '' });

async function main(): Promise<void> {
  const status: RouterOutputs['stats']['systemStatus'] = await client.stats.systemStatus.query();
  const local = ZContactCreateInput.safeParse({ phone: process.env.CONTACT_PHONE, name: 'Grace Hopper' });
  if (!local.success) throw new Error('the contract refused a valid contact');
  const created = await client.crm.contacts.create.mutate(local.data);
  let notFound = false;
  try {
    await client.crm.contacts.get.query({ id: '00000000-0000-4000-8000-000000000000' });
  } catch (err) {
    notFound = isNotFound(err);
  }
  console.log(
    JSON.stringify({
      isCommonJs: typeof module !== 'undefined' && typeof require === 'function',
      resolved: [require.resolve('@whatsapp-crm/sdk'), require.resolve('@whatsapp-crm/sdk/contracts/crm')],
      databaseReachable: status.database.reachable,
      id: created.id,
      createdAtIsDate: created.createdAt instanceof Date,
      notFound,
    }),
  );
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
`;

/** The server's internals that the published router type must not carry (its context is opaque). */
const SERVER_INTERNALS = /\b(Services|AuthService|bootstrapAdminKey|createRequestContext|Logger)\b/;

function expectedErrors(source: string) {
  return source
    .split('\n')
    .map((text, i) => ({ line: i + 1, code: /\/\/ expect (TS\d+)/.exec(text)?.[1] }))
    .filter((e): e is { line: number; code: string } => Boolean(e.code));
}

describe('the sdk packed and installed outside the repository', () => {
  let project: ConsumerProject;
  let test: TestRuntime;
  let apiUrl: string;
  let checked: Awaited<ReturnType<typeof typecheck>>;

  beforeAll(async () => {
    await ensureSdkBuilt();
    const [p, t] = await Promise.all([createConsumerProject({ readme: 'node' }), createTestRuntime()]);
    project = p;
    test = t;
    // One compiler run for every consumer file: the examples (ESM), a CommonJS script, the deliberate
    // mistakes and the sdk's own declarations. The scripts are emitted (noEmitOnError is off) and run below.
    const declarations = await copyDeclarationsAsSource(project.dir);
    await writeConsumerFiles(
      project.dir,
      { 'wrong-input.ts': WRONG_INPUT, 'calls-cjs.cts': CJS_SCRIPT },
      {
        'calls.ts': path.join(sdkDir, 'examples/node/calls.ts'),
        'subscribe.ts': path.join(sdkDir, 'examples/node/subscribe.ts'),
      },
      declarations,
    );
    checked = await typecheck(project.dir);
    const app = await test.app();
    await app.listen({ port: 0, host: '127.0.0.1' });
    apiUrl = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}/trpc`;
  }, 420_000);

  afterAll(async () => {
    await test?.close();
    if (project) await rm(project.dir, { recursive: true, force: true });
  });

  it('installs with the README lines, ships only the built package, and pulls no server package', async () => {
    expect(project.installCommands).toEqual([
      'npm install @whatsapp-crm/sdk @trpc/client@11 @trpc/server@11',
      'npm install eventsource',
    ]);
    const outside = project.packedFiles.filter(
      (f) => !f.startsWith('dist/') && !['README.md', 'CHANGELOG.md', 'package.json'].includes(f),
    );
    expect(outside).toEqual([]);
    expect(project.packedFiles).toEqual(
      expect.arrayContaining(['README.md', 'CHANGELOG.md', 'package.json']),
    );
    // Every file the exports map names is in the tarball, for import and for require.
    const manifestOfSdk = await readJson<{ exports: Record<string, unknown> }>(
      path.join(sdkDir, 'package.json'),
    );
    const targets = JSON.stringify(manifestOfSdk.exports).match(/\.\/dist\/[\w/.-]+/g) ?? [];
    expect(targets.length).toBeGreaterThan(40);
    expect(project.packedFiles).toEqual(expect.arrayContaining(targets.map((t) => t.slice(2))));
    const installed = path.join(project.dir, 'node_modules');
    for (const pkg of ['@trpc/client', '@trpc/server', 'superjson', 'zod', 'eventsource']) {
      await expect(access(path.join(installed, pkg, 'package.json'))).resolves.toBeUndefined();
    }
    for (const pkg of [
      'drizzle-orm',
      'postgres',
      'pg-boss',
      'fastify',
      'pino',
      '@electric-sql/pglite',
      'openai',
      // Optional peers of the /react entry: not installed unless the app asks for them.
      '@trpc/tanstack-react-query',
      '@tanstack/react-query',
      'react',
    ]) {
      await expect(access(path.join(installed, pkg))).rejects.toThrow();
    }
    const manifest = await readJson<{ version: string }>(path.join(installed, '@trpc/client/package.json'));
    const [major, minor] = manifest.version.split('.').map(Number);
    expect(major).toBe(11);
    expect(minor).toBeGreaterThanOrEqual(22);
  });

  it('publishes a router type with an opaque context: no service, logger or credential type', async () => {
    const dist = path.join(project.dir, 'node_modules/@whatsapp-crm/sdk/dist');
    const files = (await readdir(dist, { recursive: true })).filter((f) => /\.d\.c?ts$/.test(f));
    expect(files).toEqual(expect.arrayContaining(['index.d.ts', 'index.d.cts', 'react.d.ts', 'react.d.cts']));
    const leaks: string[] = [];
    for (const file of files) {
      const text = await readFile(path.join(dist, file), 'utf8');
      const m = SERVER_INTERNALS.exec(text);
      if (m) leaks.push(`${file}: ${m[0]}`);
    }
    expect(leaks).toEqual([]);
  });

  it('type-checks strict consumers and the published declarations, and refuses wrong inputs where they are', () => {
    const elsewhere = checked.diagnostics.filter((d) => d.file !== 'wrong-input.ts');
    expect(elsewhere).toEqual([]);
    // Everything the compiler reported is one of the deliberate mistakes, and each mistake was reported.
    const reported = checked.diagnostics.map((d) => ({ file: d.file, line: d.line, code: d.code }));
    const expected = expectedErrors(WRONG_INPUT).map((e) => ({ file: 'wrong-input.ts', ...e }));
    expect(reported).toEqual(expect.arrayContaining(expected));
    expect(reported.every((r) => expected.some((e) => e.line === r.line && e.file === r.file))).toBe(true);
    expect(checked.code).not.toBe(0);
  });

  it('calls a live server over HTTP: a query, mutations and every kind of error', async () => {
    const key = await test.key('agent');
    const res = await run(process.execPath, ['out/calls.js'], {
      cwd: project.dir,
      env: cleanEnv({ API_URL: apiUrl, API_KEY: key, CONTACT_PHONE: '+14155550123' }),
      timeoutMs: 60_000,
    });
    expect(res.stderr).toBe('');
    expect(res.code).toBe(0);
    const out = JSON.parse(res.stdout.trim().split('\n').at(-1)!);
    expect(out.query.databaseReachable).toBe(true);
    expect(out.mutation).toMatchObject({
      checkedLocally: true,
      phone: '+14155550123',
      createdAtIsDate: true,
      fetchedName: 'Ada Lovelace',
    });
    expect(out.localIssues).toEqual(['email']);
    expect(out.validation.fieldErrors).toEqual({ email: [expect.any(String)] });
    expect(out.validation.message).toMatch(/email/);
    expect(out.phoneFieldErrors).toEqual({ phone: ['is not a valid phone number'] });
    expect(out).toMatchObject({ conflict: true, notFound: true, authError: true, authCode: 'UNAUTHORIZED' });
    // The mutation really stored the contact.
    const stored = await test.caller('admin').crm.contacts.get({ id: out.mutation.id });
    expect(stored.email).toBe('ada@example.com');
  }, 60_000);

  it('runs as CommonJS: require() resolves the .cjs build, and calls a live server', async () => {
    const key = await test.key('agent');
    const res = await run(process.execPath, ['out/calls-cjs.cjs'], {
      cwd: project.dir,
      env: cleanEnv({ API_URL: apiUrl, API_KEY: key, CONTACT_PHONE: '+14155550144' }),
      timeoutMs: 60_000,
    });
    expect(res.stderr).toBe('');
    expect(res.code).toBe(0);
    const out = JSON.parse(res.stdout.trim().split('\n').at(-1)!);
    expect(out.isCommonJs).toBe(true);
    expect(out.resolved[0]).toMatch(/@whatsapp-crm[\\/]sdk[\\/]dist[\\/]index\.cjs$/);
    expect(out.resolved[1]).toMatch(/@whatsapp-crm[\\/]sdk[\\/]dist[\\/]contracts[\\/]crm\.cjs$/);
    expect(out).toMatchObject({ databaseReachable: true, createdAtIsDate: true, notFound: true });
    const stored = await test.caller('admin').crm.contacts.get({ id: out.id });
    expect(stored).toMatchObject({ phone: '+14155550144', name: 'Grace Hopper' });
  }, 60_000);

  it('receives a conversations.events event over SSE with the eventsource package', async () => {
    const key = await test.key('agent');
    const res = await run(process.execPath, ['out/subscribe.js'], {
      cwd: project.dir,
      env: cleanEnv({ API_URL: apiUrl, API_KEY: key, CONTACT_PHONE: '+14155550177' }),
      timeoutMs: 60_000,
    });
    expect(res.stderr).toBe('');
    expect(res.code).toBe(0);
    const out = JSON.parse(res.stdout.trim().split('\n').at(-1)!);
    expect(out.event).toMatchObject({ type: 'message.created', conversationId: out.conversationId });
    expect(out.eventId).toMatch(/^\d+$/);
    // The event announced a message the server really stored.
    const conversation = await test.caller('admin').conversations.get({ id: out.conversationId });
    expect(conversation.contact.phone).toBe('+14155550177');
  }, 60_000);
});
