import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { FastifyInstance } from 'fastify';
import type pino from 'pino';
import postgres from 'postgres';
import { afterAll, beforeAll, inject } from 'vitest';
import { buildApp } from '../../server/app';
import { loadConfig } from '../../server/config';
import { createLogger } from '../../server/log';
import { loadPersona } from '../../server/persona';
import { createRuntime, type Runtime } from '../../server/runtime';
import { type Caller, systemCaller } from '../../server/services/auth';
import { createInnerContext } from '../../server/trpc/context';
import { createCaller } from '../../server/trpc/router';
import { silentLogger } from './log';

export interface TestRuntime {
  runtime: Runtime;
  /** The tRPC router called in process as the given caller (default: an admin). */
  caller(as?: Caller | 'admin' | 'agent' | null): ReturnType<typeof createCaller>;
  /** The Fastify app on this runtime, built once, for inject() or listen(). */
  app(): Promise<FastifyInstance>;
  /** Creates a real API key and returns it with its role. */
  key(role: 'admin' | 'agent'): Promise<string>;
  close(): Promise<void>;
}

const callers: Record<'admin' | 'agent', Caller> = {
  admin: { kind: 'apiKey', id: 'test-admin', name: 'test admin', role: 'admin' },
  agent: { kind: 'apiKey', id: 'test-agent', name: 'test agent', role: 'agent' },
};

/**
 * A runtime on a database of its own: a fresh PGlite from the migrated template, or, with
 * DATABASE_URL set, a new database on that server, dropped on close.
 */
export async function createTestRuntime(
  env: Record<string, string | undefined> = {},
  opts: { workers?: boolean; logger?: pino.Logger } = {},
): Promise<TestRuntime> {
  const baseUrl = process.env.DATABASE_URL;
  let dropDatabase: (() => Promise<void>) | undefined;
  let url: string | undefined;
  if (baseUrl) {
    const name = `wcb_test_${randomBytes(6).toString('hex')}`;
    const admin = postgres(baseUrl, { max: 1, onnotice: () => {} });
    await admin.unsafe(`create database ${name}`);
    await admin.end();
    const u = new URL(baseUrl);
    u.pathname = `/${name}`;
    url = u.toString();
    dropDatabase = async () => {
      const a = postgres(baseUrl, { max: 1, onnotice: () => {} });
      await a.unsafe(`drop database if exists ${name} with (force)`);
      await a.end();
    };
  }
  const template = inject('pgliteTemplate');
  const loadDataDir = !url && template ? new Blob([await readFile(template)]) : undefined;

  const config = loadConfig({
    NODE_ENV: 'test',
    LOG_LEVEL: 'silent',
    DATA_DIR: 'memory://',
    BOOTSTRAP_ADMIN_KEY: 'false',
    ...env,
    DATABASE_URL: url,
  });
  const persona = loadPersona(config.personaPath);
  // TEST_LOG=debug shows the server's log while a test runs.
  const testLog = process.env.TEST_LOG as 'debug' | 'info' | undefined;
  const logger = opts.logger ?? createLogger({ logLevel: testLog ?? 'silent' });
  const runtime = await createRuntime({
    config,
    persona,
    log: opts.logger ?? (testLog ? logger : silentLogger),
    workers: opts.workers ?? false,
    loadDataDir,
  });
  let app: FastifyInstance | undefined;
  return {
    runtime,
    caller(as = 'admin') {
      const caller = as === null ? null : typeof as === 'string' ? callers[as] : as;
      return createCaller(createInnerContext({ services: runtime.services, log: silentLogger, caller }));
    },
    async app() {
      app ??= await buildApp({ runtime, logger });
      await app.ready();
      return app;
    },
    async key(role) {
      const created = await runtime.services.auth.createKey({ name: `test ${role}`, role });
      return created.key;
    },
    async close() {
      await app?.close();
      await runtime.close();
      await dropDatabase?.();
    },
  };
}

export { systemCaller };

/**
 * The database of a runtime without workers, opened before the file's tests and closed after them:
 * for tests of queries and statements. Returns a getter of its database (Drizzle's `db` and the
 * postgres.js `sql`), usable once `beforeAll` ran.
 */
export function useTestDatabase() {
  let t: TestRuntime | undefined;
  beforeAll(async () => {
    t = await createTestRuntime({}, { workers: false });
  });
  afterAll(async () => {
    await t?.close();
  });
  return () => t!.runtime.database;
}
