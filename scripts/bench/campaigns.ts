import { contacts } from '../../drizzle';
import { loadConfig } from '../../server/config';
import { createLogger } from '../../server/log';
import { loadPersona } from '../../server/persona';
import { createRuntime } from '../../server/runtime';
import { systemCaller } from '../../server/services/auth';
import { createInnerContext } from '../../server/trpc/context';
import { createCaller } from '../../server/trpc/router';
import { startFakeWasender } from '../../tests/fakes/wasender-server';
import { type ScenarioResult, scratchDatabase, sleep, summarize } from './lib';

/** The gateway's limit in the benchmark, in messages per second (--quick: a faster, shorter run). */
const RATE = { full: 20, quick: 30 };
/**
 * The global throttle is set a little under the gateway's limit, as an operator should: at the limit
 * itself a few milliseconds of timing noise would put one message too many in a second now and then.
 */
const GATEWAY_HEADROOM = 0.975;

/**
 * Campaign throughput: the fake WaSender accepts R messages per sliding second (429 beyond), the global
 * gateway throttle is set just under R and the campaign's rate to R (default jitter). One campaign of
 * 5,000 recipients at R = 20/s (360 at R = 30/s with --quick, about 12 s) on Postgres, with workers in
 * this process. Baseline: the
 * configured rate R; subject: the rate measured at the gateway over every window of the run.
 * Counts rate-limit rejections, duplicates and recipients never messaged.
 */
export async function benchCampaigns(pgUrl: string, quick: boolean): Promise<ScenarioResult> {
  const n = quick ? 360 : 5000;
  const R = quick ? RATE.quick : RATE.full;
  const db = await scratchDatabase(pgUrl);
  const wasender = await startFakeWasender({ ratePerSecond: R });
  const config = loadConfig({
    DATABASE_URL: db.url,
    LOG_LEVEL: 'silent',
    BOOTSTRAP_ADMIN_KEY: 'false',
    WASENDER_API_TOKEN: wasender.token,
    WASENDER_BASE_URL: wasender.url,
    SEND_RATE_PER_MINUTE: String(Math.floor(R * 60 * GATEWAY_HEADROOM)),
  });
  const log = createLogger({ logLevel: 'silent' });
  const runtime = await createRuntime({
    config,
    persona: loadPersona(config.personaPath),
    log,
    workers: true,
  });
  const api = createCaller(createInnerContext({ services: runtime.services, log, caller: systemCaller }));
  const notes: string[] = [];
  const rounds: Array<{ baseline: number; subject: number }> = [];
  let rejected = 0;
  let duplicates = 0;
  let missed = 0;
  let overall = 0;
  try {
    const phones = Array.from({ length: n }, (_, i) => `+1415${String(2_000_000 + i)}`);
    const ids: string[] = [];
    for (let i = 0; i < n; i += 1000) {
      const rows = await runtime.database.db
        .insert(contacts)
        .values(phones.slice(i, i + 1000).map((phone, k) => ({ phone, name: `Bench ${i + k}` })))
        .returning({ id: contacts.id });
      ids.push(...rows.map((r) => r.id));
    }
    const c = await api.campaigns.create({
      name: 'Benchmark',
      template: 'Hello {{name}}, this is the benchmark offer',
      audience: { contactIds: ids },
      ratePerMinute: R * 60,
    });
    await api.campaigns.start({ id: c.id });
    const deadline = Date.now() + (n / R) * 3000 + 120_000;
    for (;;) {
      const d = await api.campaigns.get({ id: c.id });
      if (d.status === 'completed') {
        notes.push(
          `figures: ${JSON.stringify(d.figures)}; jitter ${d.jitterPercent}%; ` +
            `global throttle ${config.pipeline.sendRatePerMinute}/min`,
        );
        break;
      }
      if (d.status !== 'running' || Date.now() > deadline) {
        throw new Error(
          `campaign did not complete: ${d.status} ${d.pausedReason ?? ''} ${JSON.stringify(d.figures)}`,
        );
      }
      await sleep(1000);
    }

    const sent = wasender.sent;
    const per = new Map<string, number>();
    for (const s of sent) per.set(s.to, (per.get(s.to) ?? 0) + 1);
    duplicates = [...per.values()].filter((k) => k > 1).length;
    missed = phones.filter((p) => !per.has(p)).length;
    rejected = wasender.rejected.length;
    const rate = (from: number, to: number) => (to - from) / ((sent[to]!.at - sent[from]!.at) / 1000);
    overall = rate(0, sent.length - 1);
    // Five consecutive windows show whether the pace holds from start to end.
    const w = Math.floor((sent.length - 1) / 5);
    for (let i = 0; i < 5; i++) {
      const r = rate(i * w, (i + 1) * w);
      rounds.push({ baseline: R, subject: r });
      notes.push(`window ${i + 1} (sends ${i * w + 1}–${(i + 1) * w + 1}): ${r.toFixed(2)} msg/s`);
    }
    notes.push(
      `${sent.length} sends to ${n} recipients in ${((sent.at(-1)!.at - sent[0]!.at) / 1000).toFixed(1)} s: ` +
        `sustained ${overall.toFixed(2)} msg/s = ${(overall / R).toFixed(3)} × R (R = ${R}/s)`,
    );
    notes.push(`rate-limit rejections: ${rejected}, duplicates: ${duplicates}, missed: ${missed}`);
  } finally {
    await runtime.close();
    await wasender.close();
    await db.drop();
  }
  return summarize('campaign throughput', {
    metric: `messages per second at the gateway over ${n} recipients, relative to the configured rate R = ${R}/s`,
    unit: 'msg/s',
    target: 'sustained ≥ 0.95 × R, 0 rejections, 0 duplicates, 0 missed',
    rounds,
    higherIsBetter: true,
    pass: () => overall >= 0.95 * R && rejected === 0 && duplicates === 0 && missed === 0,
    notes,
  });
}
