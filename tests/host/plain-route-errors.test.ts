import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { webhookHeaders } from '../../scripts/lib/wasender-payloads';
import { buildApp } from '../../server/app';
import { createLogger } from '../../server/log';
import { textWebhook, WEBHOOK_SECRET } from '../helpers/pipeline';
import { createTestRuntime, type TestRuntime } from '../helpers/runtime';

/**
 * Unexpected failures on plain Fastify routes (the webhook, health, readiness and any route added
 * later): a generic 500 to the caller, the details with their stack in the log only.
 */

const MARKER = 'internal-detail-7f3a at db.internal.example:6543';
const GENERIC = { error: 'Internal server error' };
/** What a database error carries and a caller must never see. */
const INTERNALS =
  /internal-detail|db\.internal|6543|5432|127\.0\.0\.1|P0001|insert|select|parameters|stack|CONNECTION|postgres/i;

function capture() {
  const lines: string[] = [];
  const logger = createLogger({ logLevel: 'error' }, [], { write: (l: string) => void lines.push(l) });
  return { lines, logger };
}

const signed = (body: unknown) => ({
  method: 'POST' as const,
  url: '/webhook',
  headers: webhookHeaders(WEBHOOK_SECRET),
  payload: JSON.stringify(body),
});

describe('a database failure under the webhook', () => {
  let t: TestRuntime;
  const log = capture();
  beforeAll(async () => {
    t = await createTestRuntime({ WASENDER_WEBHOOK_SECRET: WEBHOOK_SECRET }, { logger: log.logger });
  });
  afterAll(() => t?.close());

  it('a trigger that raises on every table: 500 with a generic body, the error and its stack in the log', async () => {
    const app = await t.app();
    // A real failure inside the database, on whichever table the webhook writes first.
    await t.runtime.database.sql.unsafe(`
      create function fail_every_write() returns trigger language plpgsql as $$
      begin raise exception '${MARKER}'; end $$;
      do $$ declare r record; begin
        for r in select tablename from pg_tables where schemaname = 'public' loop
          execute format('create trigger fail_every_write before insert or update on %I
            for each row execute function fail_every_write()', r.tablename);
        end loop;
      end $$;`);
    try {
      for (const phone of ['14155550601', '14155550602']) {
        const res = await app.inject(signed(textWebhook({ phone, text: 'hello' })));
        expect(res.statusCode).toBe(500);
        expect(res.json()).toEqual(GENERIC);
        expect(res.body).not.toMatch(INTERNALS);
      }
      const logged = log.lines.join('\n');
      expect(logged).toContain('internal-detail-7f3a');
      expect(logged).toMatch(/"stack":/);
    } finally {
      await t.runtime.database.sql.unsafe(`
        do $$ declare r record; begin
          for r in select tablename from pg_tables where schemaname = 'public' loop
            execute format('drop trigger if exists fail_every_write on %I', r.tablename);
          end loop;
        end $$;
        drop function fail_every_write();`);
    }
    // The same webhook goes through once the database is healthy again.
    const ok = await app.inject(signed(textWebhook({ phone: '14155550603', text: 'hello' })));
    expect(ok.statusCode).toBe(200);
  });

  it('a closed pool: the webhook answers a generic 500 without host or port; /ready says 503', async () => {
    const broken = await createTestRuntime({ WASENDER_WEBHOOK_SECRET: WEBHOOK_SECRET });
    try {
      const app = await broken.app();
      await broken.runtime.database.sql.end({ timeout: 1 });
      const res = await app.inject(signed(textWebhook({ phone: '14155550604', text: 'hello' })));
      expect(res.statusCode).toBe(500);
      expect(res.json()).toEqual(GENERIC);
      expect(res.body).not.toMatch(INTERNALS);
      const ready = await app.inject({ url: '/ready' });
      expect(ready.statusCode).toBe(503);
      expect(ready.body).not.toMatch(INTERNALS);
    } finally {
      await broken.close().catch(() => {});
    }
  });
});

describe('any plain route, including ones added later', () => {
  let t: TestRuntime;
  const log = capture();
  let app: Awaited<ReturnType<typeof buildApp>>;
  beforeAll(async () => {
    t = await createTestRuntime({ BODY_LIMIT_BYTES: '2048' });
    app = await buildApp({ runtime: t.runtime, logger: log.logger });
    app.get('/later/fails', async () => {
      const err = Object.assign(new Error(`relation "x" does not exist: ${MARKER}`), {
        code: '42P01',
        query: 'select secret from x where id = $1',
        parameters: ['p-1'],
      });
      throw err;
    });
    app.get('/later/odd-status', async () => {
      // An error from a library that happens to carry a 4xx status is still an internal error.
      throw Object.assign(new Error(MARKER), { statusCode: 404 });
    });
    app.post('/later/echo', async (req) => ({ got: req.body }));
    await app.ready();
  });
  afterAll(async () => {
    await app?.close();
    await t?.close();
  });

  it('an unexpected error is a generic 500, logged with its stack', async () => {
    for (const url of ['/later/fails', '/later/odd-status']) {
      const res = await app.inject({ url });
      expect(res.statusCode).toBe(500);
      expect(res.json()).toEqual(GENERIC);
      expect(res.body).not.toMatch(INTERNALS);
    }
    expect(log.lines.join('\n')).toMatch(/"stack":".*internal-detail-7f3a/);
  });

  it("Fastify's own client errors stay clear 4xx answers", async () => {
    const post = (contentType: string, payload: string) =>
      app.inject({ method: 'POST', url: '/later/echo', headers: { 'content-type': contentType }, payload });
    const tooLarge = await post('application/json', JSON.stringify({ a: 'x'.repeat(4000) }));
    expect(tooLarge.statusCode).toBe(413);
    expect(tooLarge.json()).toEqual({ error: 'Request body is too large' });
    const badJson = await post('application/json', '{"a": ');
    expect(badJson.statusCode).toBe(400);
    expect(badJson.json()).toEqual({ error: 'Body is not valid JSON' });
    const media = await post('application/xml', '<a/>');
    expect(media.statusCode).toBe(415);
    expect(media.json()).toEqual({ error: 'Unsupported media type' });
    const good = await post('application/json', '{"a":1}');
    expect(good.json()).toEqual({ got: { a: 1 } });
  });

  it('unknown routes still answer 404', async () => {
    const res = await app.inject({ url: '/no/such/route' });
    expect(res.statusCode).toBe(404);
  });
});
