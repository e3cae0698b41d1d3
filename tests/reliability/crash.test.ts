import { afterAll, describe, expect, it } from 'vitest';
import { webhookHeaders } from '../../scripts/lib/wasender-payloads';
import { startFakeOpenAI } from '../fakes/openai-server';
import { startFakeWasender } from '../fakes/wasender-server';
import { textWebhook, WEBHOOK_SECRET } from '../helpers/pipeline';
import { createScratchDatabase, type ServerProcess, startServerProcess } from '../helpers/server-process';

const baseUrl = process.env.DATABASE_URL;
const cleanups: Array<() => Promise<unknown>> = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => {});
});

describe.skipIf(!baseUrl)('a server killed between enqueue and send (real Postgres)', () => {
  it('resumes after restart and sends the reply exactly once', async () => {
    const scratch = await createScratchDatabase(baseUrl!);
    cleanups.push(() => scratch.drop());
    const openai = await startFakeOpenAI();
    const wasender = await startFakeWasender();
    cleanups.push(
      () => openai.close(),
      () => wasender.close(),
    );
    const env = {
      DATABASE_URL: scratch.url,
      WASENDER_WEBHOOK_SECRET: WEBHOOK_SECRET,
      OPENAI_API_KEY: openai.apiKey,
      OPENAI_BASE_URL: openai.url,
      WASENDER_API_TOKEN: wasender.token,
      WASENDER_BASE_URL: wasender.url,
      REPLY_QUIET_MS: '0',
      SEND_JOB_TIMEOUT_SECONDS: '3',
      JOB_MAINTENANCE_SECONDS: '1',
    };
    let server: ServerProcess = await startServerProcess(env);
    cleanups.push(() => server.stop());

    // Hold every send for 10 s in the shared throttle (a send job reschedules itself for its slot rather
    // than wait that long), so the process dies with the reply stored and its send job queued, not sent.
    await scratch.sql`insert into throttles (name, next_slot_at) values ('gateway', now() + interval '10 seconds')
      on conflict (name) do update set next_slot_at = excluded.next_slot_at`;
    const res = await fetch(`${server.url}/webhook`, {
      method: 'POST',
      headers: webhookHeaders(WEBHOOK_SECRET),
      body: JSON.stringify(textWebhook({ phone: '14155550601', text: 'will you survive?' })),
    });
    expect(res.status).toBe(200);
    const deadline = Date.now() + 20_000;
    for (;;) {
      const [row] =
        await scratch.sql`select count(*)::int as n from pgboss.job where name = 'pipeline.send' and state in ('created', 'retry', 'active')`;
      if (row!.n > 0) break;
      if (Date.now() > deadline) throw new Error(`send job never started:\n${server.output()}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    const [before] = await scratch.sql`select status from messages where direction = 'outbound'`;
    expect(before!.status).toBe('queued');
    await server.crash();
    expect(wasender.sent).toHaveLength(0);

    server = await startServerProcess(env);
    await wasender.waitForSends(1, 30_000);
    // Give a duplicate every chance to appear.
    await new Promise((r) => setTimeout(r, 5000));
    expect(wasender.sent).toHaveLength(1);
    expect(wasender.sent[0]).toMatchObject({ to: '+14155550601', text: 'Echo: will you survive?' });
    const rows = await scratch.sql`select status from messages where direction = 'outbound'`;
    expect(rows.map((r) => r.status)).toEqual(['sent']);
  }, 90_000);
});
