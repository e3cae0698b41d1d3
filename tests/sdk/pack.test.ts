import { access, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestRuntime, type TestRuntime } from '../helpers/runtime';
import {
  type ConsumerProject,
  createConsumerProject,
  declarationsAsSource,
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
    const [p, t] = await Promise.all([createConsumerProject({ eventsource: '4.1.1' }), createTestRuntime()]);
    project = p;
    test = t;
    // One compiler run for every consumer file: the examples, the deliberate mistakes and the sdk's own
    // declarations. The examples are emitted (noEmitOnError is off) and run below.
    await writeConsumerFiles(
      project.dir,
      { 'wrong-input.ts': WRONG_INPUT },
      {
        'calls.ts': path.join(sdkDir, 'examples/node/calls.ts'),
        'subscribe.ts': path.join(sdkDir, 'examples/node/subscribe.ts'),
        ...declarationsAsSource,
      },
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

  it('ships only the built bundle, and installs without any server package', async () => {
    expect(project.packedFiles).toEqual([
      'README.md',
      'dist/contracts.js',
      'dist/index.d.ts',
      'dist/index.js',
      'package.json',
    ]);
    const installed = path.join(project.dir, 'node_modules');
    for (const pkg of ['@trpc/client', '@trpc/server', 'superjson', 'zod']) {
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
    ]) {
      await expect(access(path.join(installed, pkg))).rejects.toThrow();
    }
    const manifest = await readJson<{ version: string }>(path.join(installed, '@trpc/client/package.json'));
    expect(manifest.version).toBe('11.25.2');
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
