import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import {
  type TLead,
  type TLeadAnalytics,
  type TLeadAnalyticsInput,
  type TLeadDetail,
  type TLeadFunnel,
  type TLeadListInput,
  type TLeadRescoreInput,
  type TLeadRescoreRun,
  type TLeadRescoreRunStatus,
  type TLeadScore,
  type TLeadSetStatusInput,
  type TLeadStatus,
  ZLeadRescoreFilter,
  ZLeadRescoreRunStatus,
} from '../contracts';
import * as acts from '../db/queries/activities';
import * as cq from '../db/queries/contacts';
import { recordEvents } from '../db/queries/events';
import * as q from '../db/queries/leads';
import * as sys from '../db/queries/system';
import type { Db, DbOrTx } from '../db/types';
import { notFound } from '../errors';
import type { JobQueue } from '../jobs/queue';
import type { Logger } from '../logger';
import { actorOf } from './actor';
import type { Caller } from './caller';
import { toLeadQualification } from './lead-qualification';
import { DEFAULT_LEAD_SCORING, scoreLead } from './lead-scoring';
import { decodeCursor, toPage } from './pagination';

export interface LeadsService {
  list(input: TLeadListInput): Promise<{ items: TLead[]; nextCursor: string | null }>;
  /** One lead with its stored score breakdown and the model's latest assessment. */
  get(contactId: string): Promise<TLeadDetail>;
  /** Changes a lead's status and records the change on its timeline. */
  setStatus(input: TLeadSetStatusInput, caller: Caller): Promise<{ changed: boolean; lead: TLead }>;
  /** The score the rules give one contact now, rule by rule (nothing is stored). */
  score(contactId: string): Promise<TLeadScore>;
  /**
   * Starts a background run that recomputes and stores score and breakdown for every matching contact,
   * and answers with it at once (queued). While a run is queued or running, answers with that run
   * instead: one rescore at a time.
   */
  rescore(input: TLeadRescoreInput): Promise<TLeadRescoreRun>;
  /** The latest rescore run with its progress, or null when none was ever started. */
  rescoreStatus(): Promise<TLeadRescoreRun | null>;
  funnel(period: { from?: Date; to?: Date }): Promise<TLeadFunnel>;
  analytics(input: TLeadAnalyticsInput): Promise<TLeadAnalytics>;
}

const toLead = (c: {
  id: string;
  phone: string;
  name: string | null;
  email: string | null;
  company: string | null;
  leadStatus: TLeadStatus;
  leadScore: number;
  source: string;
  tags: string[];
  lastInboundAt: Date | null;
  createdAt: Date;
}): TLead => ({
  id: c.id,
  phone: c.phone,
  name: c.name,
  email: c.email,
  company: c.company,
  leadStatus: c.leadStatus,
  leadScore: c.leadScore,
  source: c.source,
  tags: c.tags,
  lastInboundAt: c.lastInboundAt,
  createdAt: c.createdAt,
});

const ratio = (n: number, d: number) => (d > 0 ? Math.round((n / d) * 10_000) / 10_000 : null);

export function createLeadsService(deps: { db: Db }): LeadsService {
  const { db } = deps;

  return {
    async list(input) {
      const scope = `leads:${input.sort}`;
      const after = decodeCursor(scope, input.cursor, cq.contactSortKeyType(input.sort));
      const rows = await cq.listContacts(db, { ...input, leadStatus: input.status, after });
      return toPage(scope, rows, input.limit, toLead);
    },

    async get(contactId) {
      const contact = await cq.findContactDetail(db, contactId);
      if (!contact) throw notFound('Contact', contactId);
      return {
        ...toLead(contact),
        scoreBreakdown: contact.scoreBreakdown,
        scoredAt: contact.scoredAt,
        qualification: contact.qualification ? toLeadQualification(contact.qualification) : null,
      };
    },

    setStatus(input, caller) {
      const actor = actorOf(caller);
      return db.transaction(async (tx) => {
        const before = await cq.lockContactStatus(tx, input.contactId);
        if (!before) throw notFound('Contact', input.contactId);
        if (before.leadStatus === input.status) {
          const lead = await cq.findContact(tx, input.contactId);
          return { changed: false, lead: toLead(lead!) };
        }
        const updated = await cq.updateContact(tx, input.contactId, { leadStatus: input.status });
        if (!updated) throw notFound('Contact', input.contactId);
        await recordEvents(tx, [
          { type: 'contact.updated', contactId: input.contactId, fields: ['leadStatus'] },
        ]);
        await acts.insertActivity(tx, {
          contactId: input.contactId,
          type: q.STATUS_CHANGE_ACTIVITY,
          summary:
            `Lead status changed from ${before.leadStatus} to ${input.status}${input.reason ? `: ${input.reason}` : ''}`.slice(
              0,
              500,
            ),
          metadata: { from: before.leadStatus, to: input.status, reason: input.reason ?? null },
          actorType: actor.type,
          actorId: actor.id,
          actorName: actor.name,
        });
        return { changed: true, lead: toLead(updated) };
      });
    },

    async score(contactId) {
      const contact = await cq.findContactDetail(db, contactId);
      if (!contact) throw notFound('Contact', contactId);
      const [facts] = await q.scoringFacts(db, [contactId]);
      const { score, breakdown } = scoreLead(facts!, DEFAULT_LEAD_SCORING, new Date());
      return { contactId, score, breakdown, storedScore: contact.leadScore, scoredAt: contact.scoredAt };
    },

    async rescore(input) {
      // Normally one pass; another only if the active run finished between reading and writing.
      for (let i = 0; i < 3; i++) {
        const current = await currentRun(db);
        if (current && isActive(current.status)) return toRun(current);
        const run: StoredRun = {
          runId: randomUUID(),
          status: 'queued',
          filter: input,
          scored: 0,
          changed: 0,
          total: null,
          queuedAt: new Date().toISOString(),
          startedAt: null,
          finishedAt: null,
          error: null,
          afterId: null,
          attempt: null,
        };
        // The run and its job commit together; the conditional write lets only one caller start a run.
        const started = await db.transaction(async (tx) => {
          if (!(await sys.putSystemStateUnless(tx, q.RESCORE_STATE_KEY, run, 'status', ACTIVE))) return false;
          await q.enqueueRescoreJob(tx, run.runId);
          return true;
        });
        if (started) return toRun(run);
      }
      throw new Error('could not start a rescore run');
    },

    async rescoreStatus() {
      const run = await currentRun(db);
      return run && toRun(run);
    },

    async funnel(period) {
      const rows = await q.funnelCounts(db, period);
      const total = rows.reduce((n, r) => n + r.count, 0);
      const stages = q.FUNNEL.map((status, rank) => ({
        status,
        current: rows.filter((r) => r.status === status).reduce((n, r) => n + r.count, 0),
        reached: rows.filter((r) => r.reachedRank >= rank).reduce((n, r) => n + r.count, 0),
        conversion: null as number | null,
      }));
      stages.forEach((s, i) => {
        if (i > 0) s.conversion = ratio(s.reached, stages[i - 1]!.reached);
      });
      const lost = rows.filter((r) => r.status === 'lost').reduce((n, r) => n + r.count, 0);
      return { from: period.from ?? null, to: period.to ?? null, total, stages, lost };
    },

    async analytics(input) {
      const [bySource, byPeriod] = await Promise.all([
        q.leadsBySource(db, input),
        q.leadsByPeriod(db, { from: input.from, to: input.to, unit: input.groupBy }),
      ]);
      return { bySource, byPeriod };
    },
  };
}

// ---- Background rescore runs -------------------------------------------------------------------

const RESCORE_BATCH = 500;
/** Attempts after the first before a run is given up as failed. */
export const RESCORE_RETRY_LIMIT = 3;
const ACTIVE: TLeadRescoreRunStatus[] = ['queued', 'running'];
const isActive = (s: TLeadRescoreRunStatus) => ACTIVE.includes(s);

export interface RescoreJob {
  runId: string;
}

/** A run as stored under `system_state` key `leads.rescore` (JSON: times as ISO text), with its bookkeeping. */
const ZStoredRun = z.object({
  runId: z.string(),
  status: ZLeadRescoreRunStatus,
  filter: ZLeadRescoreFilter,
  scored: z.number(),
  changed: z.number(),
  total: z.number().nullable(),
  queuedAt: z.string(),
  startedAt: z.string().nullable(),
  finishedAt: z.string().nullable(),
  error: z.string().nullable(),
  /** The last contact done, in id order: a retried run resumes after it. */
  afterId: z.string().nullable(),
  /** The job attempt owning the run (`jobId/retryCount`); only it may write progress. */
  attempt: z.string().nullable(),
});
type StoredRun = z.infer<typeof ZStoredRun>;

const toRun = (r: StoredRun): TLeadRescoreRun => ({
  runId: r.runId,
  status: r.status,
  filter: r.filter,
  scored: r.scored,
  changed: r.changed,
  total: r.total,
  queuedAt: new Date(r.queuedAt),
  startedAt: r.startedAt ? new Date(r.startedAt) : null,
  finishedAt: r.finishedAt ? new Date(r.finishedAt) : null,
  error: r.error,
});

async function readRun(db: DbOrTx): Promise<StoredRun | null> {
  const row = await sys.getSystemState(db, q.RESCORE_STATE_KEY);
  const parsed = row ? ZStoredRun.safeParse(row.value) : null;
  return parsed?.success ? parsed.data : null;
}

/** Writes a run's end and its event together, if `match` still holds; true when written. */
async function finishRun(db: Db, run: StoredRun, match: sys.SystemStateMatch): Promise<boolean> {
  return db.transaction(async (tx) => {
    if (!(await sys.updateSystemStateIf(tx, q.RESCORE_STATE_KEY, run, match))) return false;
    if (run.status === 'completed' || run.status === 'failed')
      await recordEvents(tx, [{ type: 'leads.rescore', runId: run.runId, status: run.status }]);
    return true;
  });
}

/**
 * The latest run. An active run whose job is gone (its last attempt died with its process) is
 * recorded as failed here, so it does not block new runs.
 */
async function currentRun(db: Db): Promise<StoredRun | null> {
  const run = await readRun(db);
  if (!run || !isActive(run.status) || (await q.rescoreJobAlive(db, run.runId))) return run;
  await finishRun(
    db,
    {
      ...run,
      status: 'failed',
      finishedAt: new Date().toISOString(),
      error: run.error ?? 'The rescore job ended without finishing',
    },
    { runId: run.runId, status: run.status, attempt: run.attempt },
  );
  return readRun(db);
}

class LostRun extends Error {}
class WorkerStopping extends Error {}

/**
 * One attempt of a rescore job. It takes the run over with a compare-and-set on its owner, then scores
 * batch after batch, storing the scores and the run's progress in one transaction per batch; another
 * attempt taking over (after an expiry) makes this one stop at its next batch. A retried run resumes
 * after the last stored batch (scoring is idempotent). Answers what became of the attempt; throws
 * (after recording the error, and on the last attempt the failure) so pg-boss retries or fails the job.
 */
export async function runRescoreJob(
  deps: { db: Db },
  job: { id: string; data: RescoreJob; retryCount: number },
  opts: { signal?: AbortSignal; retryLimit?: number } = {},
): Promise<'completed' | 'skipped' | 'lost'> {
  const { db } = deps;
  const found = await readRun(db);
  if (!found || found.runId !== job.data.runId || !isActive(found.status)) return 'skipped';

  const attempt = `${job.id}/${job.retryCount}`;
  let run: StoredRun = {
    ...found,
    status: 'running',
    attempt,
    startedAt: found.startedAt ?? new Date().toISOString(),
    total: found.total ?? (await q.countContactsToScore(db, found.filter)),
  };
  const takeover = { runId: found.runId, status: found.status, attempt: found.attempt };
  if (!(await sys.updateSystemStateIf(db, q.RESCORE_STATE_KEY, run, takeover))) return 'lost';
  const owned = { runId: run.runId, status: 'running', attempt };

  try {
    const now = new Date();
    for (;;) {
      if (opts.signal?.aborted) throw new WorkerStopping('The worker stopped; the run resumes on a retry');
      const ids = await q.contactIdsToScore(db, {
        ...run.filter,
        afterId: run.afterId,
        limit: RESCORE_BATCH,
      });
      const facts = ids.length ? await q.scoringFacts(db, ids) : [];
      const rows = facts.map((f) => ({ id: f.id, ...scoreLead(f, DEFAULT_LEAD_SCORING, now) }));
      const done = ids.length < RESCORE_BATCH;
      const before = run;
      run = await db.transaction(async (tx) => {
        const changed = await cq.setLeadScores(tx, rows, now);
        const next: StoredRun = {
          ...before,
          scored: before.scored + rows.length,
          changed: before.changed + changed,
          afterId: ids.at(-1) ?? before.afterId,
          ...(done
            ? { status: 'completed' as const, finishedAt: new Date().toISOString(), error: null }
            : {}),
        };
        if (!(await sys.updateSystemStateIf(tx, q.RESCORE_STATE_KEY, next, owned))) throw new LostRun();
        if (done) await recordEvents(tx, [{ type: 'leads.rescore', runId: next.runId, status: 'completed' }]);
        return next;
      });
      if (done) return 'completed';
    }
  } catch (err) {
    if (err instanceof LostRun) return 'lost';
    const last =
      !(err instanceof WorkerStopping) && job.retryCount >= (opts.retryLimit ?? RESCORE_RETRY_LIMIT);
    const message = (err instanceof Error ? err.message : String(err)).slice(0, 500);
    const next: StoredRun = {
      ...run,
      error: message,
      ...(last ? { status: 'failed' as const, finishedAt: new Date().toISOString() } : {}),
    };
    // Best effort (the database may be what failed); an unrecorded failure is caught by currentRun.
    await finishRun(db, next, owned).catch(() => {});
    throw err;
  }
}

/** Creates the rescore queue; every process does this, workers or not. */
export async function defineLeadsQueues(queue: JobQueue): Promise<void> {
  await queue.define({
    name: q.QUEUE_LEADS_RESCORE,
    retryLimit: RESCORE_RETRY_LIMIT,
    retryDelay: 5,
    // Bounds a run whose process died; a live run outlasting it is taken over and resumes, not doubled.
    expireInSeconds: 30 * 60,
  });
}

/** Starts this process's rescore worker (one run at a time); stop() ends its run at the next batch. */
export async function startLeadsWorkers(deps: {
  db: Db;
  queue: JobQueue;
  log: Logger;
}): Promise<{ stop(): void }> {
  const stopping = new AbortController();
  await deps.queue.work<RescoreJob>(q.QUEUE_LEADS_RESCORE, { concurrency: 1 }, async (job) => {
    const outcome = await runRescoreJob(deps, job, { signal: stopping.signal });
    deps.log.info({ runId: job.data.runId, outcome }, 'lead rescore job done');
  });
  return { stop: () => stopping.abort() };
}
