import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { contacts } from '../../drizzle';
import { createTestRuntime, type TestRuntime } from '../helpers/runtime';

let t: TestRuntime;
let adminKey: string;
beforeAll(async () => {
  t = await createTestRuntime();
  adminKey = await t.key('admin');
});
afterAll(() => t?.close());

const trpcPost = async (path: string, input: unknown) =>
  (await t.app()).inject({
    method: 'POST',
    url: `/trpc/${path}`,
    headers: { authorization: `Bearer ${adminKey}`, 'content-type': 'application/json' },
    payload: JSON.stringify({ json: input }),
  });

describe('errors', () => {
  it('bad input: 400 with field errors, and nothing is written', async () => {
    const res = await trpcPost('crm.contacts.create', { phone: '+14155550111', email: 'not-an-email' });
    expect(res.statusCode).toBe(400);
    const err = res.json().error.json;
    expect(err.data.code).toBe('BAD_REQUEST');
    expect(err.data.zodError.fieldErrors.email).toBeDefined();
    expect(err.message).toContain('email');
    expect(await t.runtime.database.db.select().from(contacts)).toHaveLength(0);
  });

  it('domain errors keep their code and message: CONFLICT on an existing phone, NOT_FOUND on a missing id', async () => {
    expect((await trpcPost('crm.contacts.create', { phone: '+1 415 555 0112' })).statusCode).toBe(200);
    const dup = await trpcPost('crm.contacts.create', { phone: '(415) 555-0112' });
    expect(dup.statusCode).toBe(409);
    expect(dup.json().error.json.message).toBe('A contact with phone +14155550112 already exists');
    expect(dup.json().error.json.data.zodError).toBeNull();

    const app = await t.app();
    const missing = await app.inject({
      url: `/trpc/crm.contacts.get?input=${encodeURIComponent(JSON.stringify({ json: { id: '00000000-0000-4000-8000-000000000001' } }))}`,
      headers: { authorization: `Bearer ${adminKey}` },
    });
    expect(missing.statusCode).toBe(404);
  });

  it('an invalid phone is a BAD_REQUEST naming the field', async () => {
    const res = await trpcPost('crm.contacts.create', { phone: '12345' });
    expect(res.statusCode).toBe(400);
    expect(res.json().error.json.data.zodError.fieldErrors.phone).toEqual(['is not a valid phone number']);
  });
});

describe('unexpected failures', () => {
  it('are masked: a 500 with a generic message and no internal detail', async () => {
    const broken = await createTestRuntime();
    try {
      const key = await broken.key('admin');
      const app = await broken.app();
      // The database goes away under the server: the query fails with a driver error.
      await broken.runtime.database.sql.end({ timeout: 1 });
      const res = await app.inject({
        url: `/trpc/crm.contacts.get?input=${encodeURIComponent(JSON.stringify({ json: { id: '00000000-0000-4000-8000-000000000001' } }))}`,
        headers: { authorization: `Bearer ${key}` },
      });
      expect(res.statusCode).toBe(500);
      const body = res.json().error.json;
      expect(body.message).toBe('Internal server error');
      expect(JSON.stringify(body)).not.toMatch(/stack|postgres|CONNECTION|ended/i);
    } finally {
      await broken.close().catch(() => {});
    }
  });
});
