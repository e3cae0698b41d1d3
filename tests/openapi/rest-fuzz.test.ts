import fc from 'fast-check';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REST_PREFIX, restRoutes } from '../../server/http/openapi';
import { createLogger } from '../../server/log';
import { createTestRuntime, type TestRuntime } from '../helpers/runtime';

/**
 * Hostile input through the REST door: NUL bytes, unpaired surrogates, dates out of range, over-long
 * strings and wrong shapes, in path parameters, query strings and JSON bodies of every REST route.
 * Each answer is a 4xx in JSON (or a 200 when the input happens to be acceptable), never a 5xx, and
 * nothing unstorable reaches the database.
 */
let t: TestRuntime;
let app: FastifyInstance;
let auth: Record<string, string>;
let contactId: string;
/** Error lines of the server's log (a 500 logs one). */
const errors: string[] = [];

beforeAll(async () => {
  const logger = createLogger({ logLevel: 'error' }, [], {
    write: (line: string) => void errors.push(line),
  });
  t = await createTestRuntime({}, { logger });
  app = await t.app();
  auth = { authorization: `Bearer ${await t.key('admin')}` };
  contactId = (await t.caller('admin').crm.contacts.create({ phone: '+14155550911', name: 'Target' })).id;
});
afterAll(() => t?.close());

const routes = restRoutes();

/** Keys of a route's input object, as the contract names them. */
function fieldsOf(route: (typeof routes)[number]): string[] {
  const def = (route.input as { _zod?: { def?: { shape?: object; innerType?: unknown; type?: string } } })
    ?._zod?.def;
  let d = def;
  for (let i = 0; d && !d.shape && i < 5; i++) {
    d = (d.innerType as { _zod?: { def?: typeof def } } | undefined)?._zod?.def;
  }
  return d?.shape ? Object.keys(d.shape) : [];
}

const nulString = fc.string({ maxLength: 20 }).map((s) => `${s}\u0000${s}`);
const loneSurrogate = fc
  .tuple(fc.string({ maxLength: 20 }), fc.integer({ min: 0xd800, max: 0xdfff }))
  .map(([s, c]) => `${s}${String.fromCharCode(c)}x`);
const badDateText = fc.constantFrom(
  '0001-01-01T00:00:00Z',
  '0000-01-01',
  '0999-12-31T23:59:59.999Z',
  '10000-01-01T00:00:00Z',
  '+275760-09-13T00:00:00.001Z',
  '-271821-04-19T00:00:00Z',
  '-005000-01-01T00:00:00Z',
  '2024-13-45T25:61:61Z',
  '9999-12-31T23:59:60Z',
);
const overLong = fc.constantFrom(5_001, 100_001).map((n) => 'x'.repeat(n));
const wrongShape = fc.constantFrom<unknown>(null, [], {}, { __proto__: { admin: true } }, 1e308, -1, true, [
  ['\u0000'],
]);
const hostileText = fc.oneof(nulString, loneSurrogate, badDateText, overLong);
const hostile = fc.oneof(hostileText, wrongShape);

/** A path parameter as it travels in a URL: percent-encoded bytes, some of them invalid UTF-8. */
const hostileParam = fc.oneof(
  fc.constantFrom(
    '%00',
    'a%00b',
    '%ED%A0%80',
    '%E0%A4%A',
    '%C0%AF',
    '..%2F..',
    '%FF%FE',
    contactIdPlaceholder(),
  ),
  overLong,
);
function contactIdPlaceholder() {
  return '__contact__';
}

function urlFor(route: (typeof routes)[number], param: string): string {
  return REST_PREFIX + route.url.replace(/\{\w+\}/g, () => (param === '__contact__' ? contactId : param));
}

/** A query string with hostile values; lone surrogates are written as the bytes a client would send. */
function queryOf(entries: [string, unknown][]): string {
  const enc = (v: string) =>
    [...v].map((ch) => (/[\uD800-\uDFFF]/.test(ch) ? '%ED%A0%80' : encodeURIComponent(ch))).join('');
  return entries
    .map(([k, v]) => `${encodeURIComponent(k)}=${enc(typeof v === 'string' ? v : JSON.stringify(v))}`)
    .join('&');
}

async function expectNo5xx(
  route: (typeof routes)[number],
  res: { statusCode: number; body: string; headers: Record<string, unknown> },
) {
  expect(res.statusCode, `${route.method} ${route.url}: ${res.body.slice(0, 300)}`).toBeLessThan(500);
  if (res.statusCode >= 400) {
    expect(String(res.headers['content-type'])).toMatch(/^application\/json/);
    expect(() => JSON.parse(res.body)).not.toThrow();
  }
}

describe('hostile input through REST', () => {
  it('every route answers hostile fields with a 4xx, never a 5xx', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...routes),
        fc.integer({ min: 0, max: 50 }),
        hostile,
        hostileParam,
        async (route, pick, value, param) => {
          const fields = fieldsOf(route).filter((f) => !route.pathParams.includes(f));
          const field = fields.length ? fields[pick % fields.length]! : 'x';
          const url = urlFor(route, param);
          const res =
            route.method === 'GET' || route.method === 'DELETE'
              ? await app.inject({
                  method: route.method,
                  url: `${url}?${queryOf([[field, value]])}`,
                  headers: auth,
                })
              : await app.inject({
                  method: route.method,
                  url,
                  headers: { ...auth, 'content-type': 'application/json' },
                  payload: JSON.stringify({ [field]: value }),
                });
          await expectNo5xx(route, res);
        },
      ),
      { numRuns: 300 },
    );
    expect(errors).toEqual([]);
  }, 240_000);

  it('a hostile value in a field the contract takes is refused with a 400 naming that field', async () => {
    const cases: [string, string, Record<string, unknown>, string][] = [
      ['POST', '/contacts', { phone: '+14155550912', name: 'a\u0000b' }, 'name'],
      ['POST', '/contacts', { phone: '+14155550913', name: 'a\uD800b' }, 'name'],
      ['POST', '/contacts', { phone: '+14155550914', notes: 'x'.repeat(100_001) }, 'notes'],
      ['POST', '/tasks', { title: 'T', dueAt: '0001-01-01T00:00:00Z' }, 'dueAt'],
      ['POST', '/tasks', { title: 'T', dueAt: '+275760-09-13T00:00:00.001Z' }, 'dueAt'],
      ['POST', '/tasks', { title: 'T', dueAt: 'next tuesday' }, 'dueAt'],
    ];
    for (const [method, url, body, field] of cases) {
      const res = await app.inject({
        method: method as 'POST',
        url: REST_PREFIX + url,
        headers: { ...auth, 'content-type': 'application/json' },
        payload: JSON.stringify(body),
      });
      expect(res.statusCode, `${url} ${field}`).toBe(400);
      expect(res.json().issues.map((i: { path: string }) => i.path)).toContain(field);
    }
    const query = await app.inject({
      url: `${REST_PREFIX}/tasks?dueBefore=0999-12-31T00:00:00Z`,
      headers: auth,
    });
    expect(query.statusCode).toBe(400);
    expect(query.json().issues[0].path).toBe('dueBefore');
    // Nothing of the above was stored.
    const contacts = await t.caller('admin').crm.contacts.list({ q: '+1415555091', limit: 100 });
    expect(contacts.items.map((c) => c.phone).filter((p) => p > '+14155550911')).toEqual([]);
    const tasks = await t.caller('admin').crm.tasks.list({ limit: 100 });
    expect(tasks.items.filter((x) => x.title === 'T')).toEqual([]);
  });

  it('a body that is not a JSON object, or not JSON, is a 400', async () => {
    for (const payload of ['[1,2]', '"text"', '42', '{"phone":']) {
      const res = await app.inject({
        method: 'PATCH',
        url: `${REST_PREFIX}/contacts/${contactId}`,
        headers: { ...auth, 'content-type': 'application/json' },
        payload,
      });
      expect(res.statusCode, payload).toBe(400);
    }
  });

  it('REST calls leave /trpc validation as it was (no coercion leaks into the shared contracts)', async () => {
    await app.inject({ url: `${REST_PREFIX}/contacts?limit=5&optedOut=false`, headers: auth });
    const caller = t.caller('admin');
    await expect(caller.crm.contacts.list({ limit: '5' as unknown as number })).rejects.toThrow();
    await expect(caller.crm.contacts.list({ optedOut: 'false' as unknown as boolean })).rejects.toThrow();
  });
});
