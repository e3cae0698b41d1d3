import { TRPCError } from '@trpc/server';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appRouter } from '../../server/trpc/router';
import { createTestRuntime, type TestRuntime } from '../helpers/runtime';

let t: TestRuntime;
beforeAll(async () => {
  t = await createTestRuntime();
  // Some data, so that generated ids and filters meet real rows too.
  const admin = t.caller('admin');
  await admin.crm.contacts.create({ phone: '+14155550901', name: 'Fuzz Target', tags: ['vip'] });
});
afterAll(() => t?.close());

const procs = appRouter._def.procedures as unknown as Record<string, { _def: { type: string } }>;
const paths = Object.entries(procs)
  .filter(([, p]) => p._def.type !== 'subscription')
  .map(([path]) => path);

async function snapshot(): Promise<string> {
  const rows = await t.runtime.database.sql<{ t: string; n: number }[]>`
    select relname as t, n_live_tup::int as n from pg_stat_user_tables where schemaname = 'public' order by relname`;
  const counts = await Promise.all(
    rows.map(async (r) => {
      const [c] = await t.runtime.database.sql.unsafe<{ n: number }[]>(
        `select count(*)::int as n from "${r.t}"`,
      );
      return `${r.t}:${c!.n}`;
    }),
  );
  return counts.join(',');
}

function procedure(caller: ReturnType<TestRuntime['caller']>, path: string) {
  let target: unknown = caller;
  for (const part of path.split('.')) target = (target as Record<string, unknown>)[part];
  return target as (input: unknown) => Promise<unknown>;
}

/** Inputs that look a little like ours: objects with our usual keys, holding anything. */
const nearValid = fc.dictionary(
  fc.constantFrom(
    'id',
    'conversationId',
    'contactId',
    'dealId',
    'phone',
    'text',
    'name',
    'limit',
    'cursor',
    'status',
    'tags',
    'email',
    'stage',
    'value',
    'role',
    'owner',
    'reason',
    'ids',
    'query',
    'csv',
  ),
  fc.oneof(
    fc.anything(),
    fc.uuid(),
    fc.constant('00000000-0000-4000-8000-000000000000'),
    fc.string({ maxLength: 300 }),
    fc.integer(),
  ),
);

describe('every procedure under generated input', () => {
  it.each(paths)('%s: never an internal error; a rejected call changes nothing', async (path) => {
    const call = procedure(t.caller('admin'), path);
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.anything(), nearValid), async (input) => {
        const before = await snapshot();
        try {
          await call(input);
        } catch (err) {
          expect(err).toBeInstanceOf(TRPCError);
          expect((err as TRPCError).code).not.toBe('INTERNAL_SERVER_ERROR');
          expect(await snapshot()).toBe(before);
        }
      }),
      { numRuns: 25 },
    );
  });
});
