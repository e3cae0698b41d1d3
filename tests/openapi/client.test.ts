import createClient from 'openapi-fetch';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestRuntime, type TestRuntime } from '../helpers/runtime';
import type { paths } from './generated/api';

/**
 * A client generated from /openapi.json (openapi-typescript types + openapi-fetch) against the server
 * listening on loopback: plain JSON both ways, ISO dates, errors as JSON with their HTTP status.
 */
let t: TestRuntime;
let baseUrl: string;
let agentKey: string;
let adminKey: string;

beforeAll(async () => {
  t = await createTestRuntime({ RATE_LIMIT_PER_MINUTE: '40' });
  const app = await t.app();
  await app.listen({ host: '127.0.0.1', port: 0 });
  const addr = app.server.address();
  baseUrl = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}/api/v1`;
  agentKey = await t.key('agent');
  adminKey = await t.key('admin');
});
afterAll(() => t?.close());

const client = (headers: Record<string, string> = {}) => createClient<paths>({ baseUrl, headers });

describe('a client generated from the OpenAPI document', () => {
  it('creates a contact and reads it back, with dates as ISO strings', async () => {
    const api = client({ authorization: `Bearer ${agentKey}` });
    const created = await api.POST('/contacts', {
      body: { phone: '+14155550142', name: 'Ada Lovelace', email: 'ada@example.com', tags: ['vip'] },
    });
    expect(created.response.status).toBe(200);
    expect(created.error).toBeUndefined();
    const contact = created.data!;
    expect(contact.phone).toBe('+14155550142');
    expect(contact.createdAt).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);

    const read = await api.GET('/contacts/{id}', { params: { path: { id: contact.id } } });
    expect(read.response.status).toBe(200);
    expect(read.data).toMatchObject({ id: contact.id, name: 'Ada Lovelace', tags: ['vip'] });
    expect(read.data!.createdAt).toBe(contact.createdAt);

    // The same contact through the list, filtered from the query string (number and string parameters).
    const list = await api.GET('/contacts', { params: { query: { limit: 5, tag: 'vip' } } });
    expect(list.data!.items.map((c) => c.id)).toEqual([contact.id]);

    // And through tRPC, the same record: one set of procedures behind both doors.
    const viaTrpc = await t.caller('agent').crm.contacts.get({ id: contact.id });
    expect(viaTrpc.createdAt.toISOString()).toBe(contact.createdAt);
  });

  it('takes an X-API-Key header as well as a bearer token', async () => {
    const res = await client({ 'x-api-key': agentKey }).GET('/contacts', { params: { query: {} } });
    expect(res.response.status).toBe(200);
  });

  it('takes ISO dates in bodies and query strings', async () => {
    const api = client({ authorization: `Bearer ${agentKey}` });
    const due = '2031-05-06T07:08:09.000Z';
    const task = await api.POST('/tasks', { body: { title: 'Call back', dueAt: due } });
    expect(task.response.status).toBe(200);
    expect(task.data!.dueAt).toBe(due);
    const before = await api.GET('/tasks', { params: { query: { dueBefore: '2031-05-07T00:00:00Z' } } });
    expect(before.data!.items.map((x) => x.id)).toContain(task.data!.id);
    const after = await api.GET('/tasks', { params: { query: { dueAfter: '2031-05-07T00:00:00Z' } } });
    expect(after.data!.items.map((x) => x.id)).not.toContain(task.data!.id);
  });

  it('bad input is a 400 in JSON naming the field', async () => {
    const api = client({ authorization: `Bearer ${agentKey}` });
    const res = await api.POST('/contacts', { body: { phone: '+14155550143', email: 'not an email' } });
    expect(res.response.status).toBe(400);
    expect(res.response.headers.get('content-type')).toMatch(/^application\/json/);
    const error = res.error as { code: string; message: string; issues: { path: string; message: string }[] };
    expect(error.code).toBe('BAD_REQUEST');
    expect(error.message).toContain('email');
    expect(error.issues.map((i) => i.path)).toEqual(['email']);

    const badQuery = await api.GET('/contacts', {
      params: { query: { limit: 'many' as unknown as number } },
    });
    expect(badQuery.response.status).toBe(400);
    expect((badQuery.error as { issues: { path: string }[] }).issues[0]!.path).toBe('limit');
  });

  it('no key is a 401, an unknown key too; an agent key on an admin route is a 403', async () => {
    const none = await client().POST('/contacts', { body: { phone: '+14155550144' } });
    expect(none.response.status).toBe(401);
    expect(none.error).toMatchObject({ code: 'UNAUTHORIZED' });
    const unknown = await client({ authorization: 'Bearer wcb_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' }).GET(
      '/keys',
    );
    expect(unknown.response.status).toBe(401);
    const agent = await client({ authorization: `Bearer ${agentKey}` }).GET('/keys');
    expect(agent.response.status).toBe(403);
    expect(agent.error).toMatchObject({ code: 'FORBIDDEN' });
    const admin = await client({ authorization: `Bearer ${adminKey}` }).GET('/keys');
    expect(admin.response.status).toBe(200);
    // Nothing was created by the refused call.
    const list = await t.caller('admin').crm.contacts.list({ q: '+14155550144' });
    expect(list.items).toEqual([]);
  });

  it('a missing record is a 404, a duplicate a 409', async () => {
    const api = client({ authorization: `Bearer ${agentKey}` });
    const missing = await api.GET('/contacts/{id}', {
      params: { path: { id: '00000000-0000-4000-8000-000000000000' } },
    });
    expect(missing.response.status).toBe(404);
    expect(missing.error).toMatchObject({ code: 'NOT_FOUND' });
    await api.POST('/contacts', { body: { phone: '+14155550145' } });
    const again = await api.POST('/contacts', { body: { phone: '+14155550145' } });
    expect(again.response.status).toBe(409);
  });

  it('counts against the same per-key rate limit as /trpc', async () => {
    const key = await t.key('agent');
    const api = client({ authorization: `Bearer ${key}` });
    const statuses: number[] = [];
    for (let i = 0; i < 45; i++) statuses.push((await api.GET('/bot/summary', {})).response.status);
    expect(statuses.slice(0, 40).every((s) => s === 200)).toBe(true);
    expect(statuses.at(-1)).toBe(429);
    // The same key is spent over /trpc too.
    const trpc = await fetch(`${baseUrl.replace('/api/v1', '')}/trpc/bot.summary`, {
      headers: { authorization: `Bearer ${key}` },
    });
    expect(trpc.status).toBe(429);
    // Another key is not.
    expect((await client({ 'x-api-key': agentKey }).GET('/bot/summary', {})).response.status).toBe(200);
  });
});
