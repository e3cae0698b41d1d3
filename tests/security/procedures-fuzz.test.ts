import { TRPCError } from '@trpc/server';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_DATE, MIN_DATE } from '../../server/trpc/input-check';
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

const procs = appRouter._def.procedures as unknown as Record<
  string,
  { _def: { type: string; inputs: unknown[] } }
>;
const paths = Object.entries(procs)
  .filter(([, p]) => p._def.type !== 'subscription')
  .map(([path]) => path);

/** Strings Postgres cannot store as given: NUL anywhere, an unpaired surrogate anywhere. */
const nulString = fc
  .tuple(fc.string({ maxLength: 40 }), fc.string({ maxLength: 40 }))
  .map(([a, b]) => `${a}\u0000${b}`);
const loneSurrogateString = fc
  .tuple(fc.string({ maxLength: 40 }), fc.integer({ min: 0xd800, max: 0xdfff }), fc.string({ maxLength: 40 }))
  // A letter after the surrogate keeps a high surrogate from pairing with what follows.
  .map(([a, code, b]) => `${a}${String.fromCharCode(code)}x${b}`);
/** Dates JavaScript holds and Postgres refuses or cannot read back, and dates that are not dates. */
const badDate = fc.oneof(
  fc.constant(new Date(Number.NaN)),
  fc.constant(new Date(Date.UTC(300000, 0, 1))), // beyond JavaScript's range: Invalid Date
  fc.constant(new Date('-005000-01-01T00:00:00Z')),
  fc.integer({ min: -8.64e15, max: MIN_DATE - 1 }).map((t) => new Date(t)),
  fc.integer({ min: MAX_DATE + 1, max: 8.64e15 }).map((t) => new Date(t)),
);
const overLong = fc.constantFrom(100_001, 1_000_000).map((n) => 'x'.repeat(n));
const hostile = fc.oneof(nulString, loneSurrogateString, badDate, overLong);

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
    'dueAt',
    'from',
    'to',
    'at',
    'dueBefore',
    'occurredAt',
    'lastInboundAfter',
    'expectedCloseAt',
  ),
  fc.oneof(
    fc.anything(),
    hostile,
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

/** The top-level field names of a procedure's input, read from its zod schema. */
function inputFields(path: string): string[] {
  type Def = { type: string; shape?: Record<string, unknown>; innerType?: unknown; in?: unknown };
  let schema = procs[path]!._def.inputs[0] as { _zod?: { def: Def } } | undefined;
  for (let i = 0; i < 10 && schema?._zod; i++) {
    const def: Def = schema._zod.def;
    if (def.type === 'object' && def.shape) return Object.keys(def.shape);
    schema = (def.innerType ?? def.in) as typeof schema;
  }
  return ['input'];
}

const hostileClasses: [string, fc.Arbitrary<unknown>, RegExp][] = [
  ['a NUL character', nulString, /NUL/],
  ['an unpaired surrogate', loneSurrogateString, /surrogate/],
  ['an out-of-range or invalid date', badDate, /date/],
];

const allPaths = Object.keys(procs);

describe('values no procedure can store are refused by every procedure, naming the field', () => {
  it.each(allPaths)('%s', async (path) => {
    const call = procedure(t.caller('admin'), path);
    const fields = inputFields(path);
    for (const [, arb, message] of hostileClasses) {
      await fc.assert(
        fc.asyncProperty(fc.constantFrom(...fields), arb, async (field, value) => {
          const before = await snapshot();
          const err = await Promise.resolve()
            .then(() => call({ [field]: value }))
            .then(
              async (ok) => {
                // A subscription that started must not have: close it before failing.
                await (ok as AsyncIterator<unknown> | undefined)?.return?.();
                return null;
              },
              (e: unknown) => e,
            );
          expect(err).toBeInstanceOf(TRPCError);
          expect((err as TRPCError).code).toBe('BAD_REQUEST');
          const issues = ((err as TRPCError).cause as { issues?: { path: unknown[]; message: string }[] })
            ?.issues;
          expect(issues?.[0]?.path).toEqual([field]);
          expect(issues?.[0]?.message).toMatch(message);
          expect(await snapshot()).toBe(before);
        }),
        { numRuns: 4 },
      );
    }
  });
});

describe('valid calls with one field made hostile', () => {
  /** Valid inputs of procedures that store what they are given; each field is replaced in turn. */
  let seeded: { path: string; input: Record<string, unknown> }[] | undefined;
  async function seeds(): Promise<{ path: string; input: Record<string, unknown> }[]> {
    if (seeded) return seeded;
    const admin = t.caller('admin');
    const contact = await admin.crm.contacts.create({ phone: '+14155550902', name: 'Seed' });
    seeded = [
      {
        path: 'crm.contacts.create',
        input: { phone: '+14155550903', name: 'A', company: 'B', position: 'C', notes: 'D', tags: ['t'] },
      },
      { path: 'crm.contacts.update', input: { id: contact.id, name: 'A', notes: 'D' } },
      { path: 'crm.contacts.addTags', input: { ids: [contact.id], tags: ['t'] } },
      {
        path: 'crm.tasks.create',
        input: { title: 'T', description: 'D', dueAt: new Date('2030-01-01'), contactId: contact.id },
      },
      {
        path: 'crm.activities.create',
        input: { contactId: contact.id, type: 'note', summary: 'S', metadata: { k: 'v' } },
      },
      {
        path: 'crm.deals.create',
        input: { contactId: contact.id, title: 'D', expectedCloseAt: new Date('2030-01-01') },
      },
      { path: 'crm.tasks.list', input: { dueBefore: new Date('2030-01-01') } },
      { path: 'leads.list', input: { lastInboundAfter: new Date('2020-01-01') } },
      { path: 'keys.create', input: { name: 'K', role: 'agent' } },
    ];
    return seeded;
  }

  function leaves(value: unknown, at: (string | number)[] = []): (string | number)[][] {
    if (value instanceof Date || typeof value !== 'object' || value === null) return [at];
    return Object.entries(value).flatMap(([k, v]) =>
      leaves(v, [...at, Array.isArray(value) ? Number(k) : k]),
    );
  }

  function replaced(input: Record<string, unknown>, at: (string | number)[], value: unknown) {
    const copy = structuredClone(input);
    let target = copy as Record<string | number, unknown>;
    for (const key of at.slice(0, -1)) target = target[key] as Record<string | number, unknown>;
    target[at.at(-1)!] = value;
    return copy;
  }

  it('each seed is valid as given (so a refusal below is about the hostile field)', async () => {
    for (const { path, input } of await seeds()) {
      const given = path === 'crm.contacts.create' ? { ...input, phone: '+14155550904' } : input;
      await expect(procedure(t.caller('admin'), path)(given), path).resolves.toBeDefined();
    }
  });

  it('a NUL, an unpaired surrogate or a bad date in any field: BAD_REQUEST naming it, nothing stored', async () => {
    const all = await seeds();
    const cases = all.flatMap(({ path, input }) => leaves(input).map((at) => ({ path, input, at })));
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...cases),
        fc.oneof(...hostileClasses.map(([, arb]) => arb)),
        async ({ path, input, at }, value) => {
          const before = await snapshot();
          const err = await procedure(
            t.caller('admin'),
            path,
          )(replaced(input, at, value)).then(
            () => null,
            (e: unknown) => e,
          );
          expect(err).toBeInstanceOf(TRPCError);
          expect((err as TRPCError).code).toBe('BAD_REQUEST');
          const issues = ((err as TRPCError).cause as { issues?: { path: unknown[] }[] })?.issues;
          expect(issues?.[0]?.path).toEqual(at);
          expect(await snapshot()).toBe(before);
        },
      ),
      { numRuns: 120 },
    );
  });

  it('over-long strings in any field never give an internal error, and a refusal stores nothing', async () => {
    const all = await seeds();
    const cases = all.flatMap(({ path, input }) => leaves(input).map((at) => ({ path, input, at })));
    for (const { path, input, at } of cases) {
      const before = await snapshot();
      const err = await procedure(
        t.caller('admin'),
        path,
      )(replaced(input, at, 'x'.repeat(1_000_000))).then(
        () => null,
        (e: unknown) => e,
      );
      if (err) {
        expect(err, `${path} ${at.join('.')}`).toBeInstanceOf(TRPCError);
        expect((err as TRPCError).code).not.toBe('INTERNAL_SERVER_ERROR');
        expect(await snapshot()).toBe(before);
      }
    }
  });
});

describe('the edges of the date range are accepted and stored as given', () => {
  it('year 1000 and year 9999 round-trip through a task', async () => {
    const admin = t.caller('admin');
    for (const dueAt of [new Date(MIN_DATE), new Date(MAX_DATE - 999)]) {
      const task = await admin.crm.tasks.create({ title: 'edge', dueAt });
      expect(task.dueAt?.getTime()).toBe(dueAt.getTime());
    }
  });
});
