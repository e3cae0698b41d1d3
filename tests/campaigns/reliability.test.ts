import { afterAll, describe, expect, it } from 'vitest';
import { contacts } from '../../drizzle';
import { webhookHeaders } from '../../scripts/lib/wasender-payloads';
import { loadConfig } from '../../server/config';
import { loadPersona } from '../../server/persona';
import { createRuntime, type Runtime } from '../../server/runtime';
import { systemCaller } from '../../server/services/auth';
import { createInnerContext } from '../../server/trpc/context';
import { createCaller } from '../../server/trpc/router';
import { startFakeWasender } from '../fakes/wasender-server';
import { silentLogger } from '../helpers/log';
import { textWebhook, WEBHOOK_SECRET } from '../helpers/pipeline';
import { createScratchDatabase, type ServerProcess, startServerProcess } from '../helpers/server-process';
import { phones, sendsPerPhone, waitFor } from './support';

/**
 * A campaign of 1,000 recipients dispatched by two server processes against the fake gateway, with the
 * process that is dispatching killed (SIGKILL) halfway, while a send is in flight, and restarted.
 */

const baseUrl = process.env.DATABASE_URL;
const cleanups: Array<() => Promise<unknown>> = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => {});
});

describe.skipIf(!baseUrl)('a campaign across a crash and a second worker (real Postgres)', () => {
  it('messages every valid recipient exactly once, skips opted-out ones and ends with exact figures', async () => {
    const scratch = await createScratchDatabase(baseUrl!);
    cleanups.push(() => scratch.drop());
    const wasender = await startFakeWasender();
    cleanups.push(() => wasender.close());
    const env = {
      DATABASE_URL: scratch.url,
      WASENDER_API_TOKEN: wasender.token,
      WASENDER_BASE_URL: wasender.url,
      WASENDER_WEBHOOK_SECRET: WEBHOOK_SECRET,
      WASENDER_TIMEOUT_MS: '2000',
      SEND_RATE_PER_MINUTE: '6000',
      CAMPAIGN_LEASE_SECONDS: '3',
      CAMPAIGN_SWEEP_SECONDS: '1',
      CAMPAIGN_SLICE_SECONDS: '5',
      JOB_MAINTENANCE_SECONDS: '1',
      REPLY_QUIET_MS: '0',
    };
    const servers: ServerProcess[] = [await startServerProcess(env), await startServerProcess(env)];
    cleanups.push(() => Promise.all(servers.map((s) => s.stop())));

    // In this process: the procedures, as a script would call them (no workers here).
    const config = loadConfig({ ...env, LOG_LEVEL: 'silent', BOOTSTRAP_ADMIN_KEY: 'false' });
    const runtime: Runtime = await createRuntime({
      config,
      persona: loadPersona(config.personaPath),
      log: silentLogger,
      workers: false,
    });
    cleanups.push(() => runtime.close());
    const api = createCaller(
      createInnerContext({ services: runtime.services, log: silentLogger, caller: systemCaller }),
    );
    const db = runtime.database.db;

    const list = phones(1000, 2_000_000);
    const optedOut = [list[10]!, list[250]!, list[500]!, list[750]!, list[999]!];
    await db.insert(contacts).values(optedOut.map((phone) => ({ phone, optedOutAt: new Date() })));
    const csv = [
      'phone,name',
      ...list.map((p, i) => `${p},Customer ${i}`),
      'not a number,Nobody',
      `${list[3]},Twice`,
    ];
    const draft = await api.campaigns.create({
      name: 'Crash test',
      template: 'Hello {{name}}, this is our offer',
      audience: { numbers: csv.join('\n') },
      ratePerMinute: 6000,
    });
    const preview = await api.campaigns.preview({ id: draft.id, sample: 2 });
    expect(preview.totals).toMatchObject({
      valid: 995,
      optedOut: 5,
      invalid: 1,
      duplicate: 1,
      recipients: 1000,
    });
    expect(preview.invalid[0]).toMatchObject({ line: 1002, value: 'not a number' });

    await api.campaigns.start({ id: draft.id });
    await wasender.waitForSends(500, 120_000);

    // Hold the next send at the gateway for 3 s (longer than our 2 s timeout), kill the process that is
    // sending it while it waits, then restart that process.
    wasender.script({ delayMs: 3000 });
    await waitFor(() => wasender.requests.length > wasender.sent.length + wasender.rejected.length, {
      timeoutMs: 20_000,
    });
    const [lease] = await scratch.sql`select lease_owner from campaigns where id = ${draft.id}`;
    const pid = Number(String(lease!.lease_owner).split('/')[1]);
    const victim = servers.findIndex((s) => s.child.pid === pid);
    expect(victim).toBeGreaterThanOrEqual(0);
    await servers[victim]!.crash();
    servers[victim] = await startServerProcess(env);

    const done = await waitFor(
      async () => {
        const c = await api.campaigns.get({ id: draft.id });
        return c.status === 'completed' ? c : null;
      },
      { timeoutMs: 120_000, everyMs: 250, describe: () => api.campaigns.get({ id: draft.id }) },
    );

    // Every valid recipient received exactly one message; opted-out ones none.
    const perPhone = sendsPerPhone(wasender.sent);
    const valid = list.filter((p) => !optedOut.includes(p));
    expect(valid.filter((p) => perPhone.get(p) !== 1)).toEqual([]);
    expect(optedOut.filter((p) => perPhone.has(p))).toEqual([]);
    expect(wasender.sent).toHaveLength(995);

    // Exact figures: every recipient in one final state. The send cut off by the crash is not sent again:
    // it is recorded as failed with an unknown outcome until the gateway's echo shows it went out.
    const f = done.figures;
    expect(f.total).toBe(1000);
    expect(f.pending + f.sending).toBe(0);
    expect(f.skipped).toBe(5);
    expect(f.sent + f.delivered + f.read + f.failed + f.skipped).toBe(1000);
    const unknown = await api.campaigns.recipients({ id: draft.id, status: 'failed', limit: 100 });
    expect(f.failed).toBe(1);
    expect(unknown.items.map((r) => r.errorCode)).toEqual(['unknown']);

    // WaSender echoes every message it sends (fromMe); the echo settles the unknown ones as sent.
    for (const r of unknown.items) {
      const res = await fetch(`${servers[0]!.url}/webhook`, {
        method: 'POST',
        headers: webhookHeaders(WEBHOOK_SECRET),
        body: JSON.stringify(textWebhook({ phone: r.phone.slice(1), text: r.text!, fromMe: true })),
      });
      expect(res.status).toBe(200);
    }
    const settled = await api.campaigns.get({ id: draft.id });
    expect(settled.figures).toMatchObject({
      total: 1000,
      sent: 995,
      skipped: 5,
      failed: 0,
      pending: 0,
      sending: 0,
    });
  }, 300_000);
});
