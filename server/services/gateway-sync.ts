import type { TGatewaySync } from '../contracts';
import * as cq from '../db/queries/contacts';
import * as gq from '../db/queries/groups';
import type { Db } from '../db/types';
import { AppError } from '../errors';
import type { Gateway, GatewayContact } from '../integrations/gateway';
import type { JobQueue } from '../jobs/queue';
import type { Logger } from '../logger';
import { actorOf } from './actor';
import type { Caller } from './caller';

/**
 * Background imports from the gateway with their progress: its groups (`groups.sync`) and its contact
 * list (`crm.contacts.syncFromGateway`). One run per kind at a time; each run is a row the dashboard
 * polls and one job. Both imports are idempotent: running one twice changes nothing the first did not.
 */
export type GatewaySyncKind = 'groups' | 'contacts';

export interface GatewaySyncService {
  /** Starts a run of this kind, or answers the one already queued or running. */
  start(kind: GatewaySyncKind, caller: Caller): Promise<TGatewaySync>;
  /** The newest run of this kind, or null when none was ever started. */
  status(kind: GatewaySyncKind): Promise<TGatewaySync | null>;
}

export const QUEUE_GATEWAY_SYNC = 'gateway.sync';
export interface GatewaySyncJob {
  syncId: string;
}

/** Longest a run may take (the gateway's listing, participants of every group included). */
const SYNC_TIMEOUT_MS = 10 * 60_000;
/** A run not updated for this long died with its process: a new run may start. */
const STALE_RUN_MS = SYNC_TIMEOUT_MS + 5 * 60_000;
/** Rows written per statement (and per progress update). */
export const SYNC_BATCH = 200;

const toSync = (r: gq.GatewaySyncRow): TGatewaySync => ({
  id: r.id,
  kind: r.kind,
  status: r.status,
  total: r.total,
  processed: r.processed,
  created: r.created,
  updated: r.updated,
  error: r.error,
  startedBy: r.startedBy,
  startedAt: r.startedAt,
  finishedAt: r.finishedAt,
  createdAt: r.createdAt,
});

export function createGatewaySyncService(deps: {
  db: Db;
  queue: JobQueue;
  gateway: Gateway;
}): GatewaySyncService {
  const { db, queue, gateway } = deps;

  function capable(kind: GatewaySyncKind) {
    const has = kind === 'groups' ? gateway.listGroups : gateway.listContacts;
    if (!has)
      throw new AppError(
        'PRECONDITION_FAILED',
        `The ${gateway.name} gateway cannot list ${kind}: this import needs a gateway that can`,
      );
    if (!gateway.configured)
      throw new AppError(
        'PRECONDITION_FAILED',
        `The ${gateway.name} gateway is not configured (no API token)`,
      );
  }

  return {
    async start(kind, caller) {
      capable(kind);
      const by = actorOf(caller).name;
      for (let i = 0; i < 3; i++) {
        const created = await db.transaction(async (tx) => {
          const run = await gq.insertSync(tx, kind, by);
          if (run) await queue.send<GatewaySyncJob>(QUEUE_GATEWAY_SYNC, { syncId: run.id }, { tx });
          return run;
        });
        if (created) {
          queue.wake(QUEUE_GATEWAY_SYNC);
          return toSync(created);
        }
        const active = await gq.latestSync(db, kind);
        if (!active || (active.status !== 'queued' && active.status !== 'running')) continue;
        if (Date.now() - active.updatedAt.getTime() < STALE_RUN_MS) return toSync(active);
        // Its process died: record it as failed so a new run can start.
        await gq.updateSync(db, active.id, {
          status: 'failed',
          error: 'The run stopped without finishing',
          finishedAt: new Date(),
        });
      }
      throw new AppError('CONFLICT', `A ${kind} sync is starting; try again`);
    },
    async status(kind) {
      const row = await gq.latestSync(db, kind);
      return row && toSync(row);
    },
  };
}

/**
 * One sync run: lists what the gateway has (bounded by SYNC_TIMEOUT_MS), then writes it in batches of
 * SYNC_BATCH, adding each batch's counts to the run's progress. A failure ends the run as failed
 * with the (redacted) reason; an admin starts a new one.
 */
export async function runGatewaySync(
  deps: { db: Db; gateway: Gateway; log: Logger },
  syncId: string,
  signal?: AbortSignal,
): Promise<'completed' | 'failed' | 'skipped'> {
  const { db, gateway, log } = deps;
  const run = await gq.findSync(db, syncId);
  if (!run || (run.status !== 'queued' && run.status !== 'running')) return 'skipped';
  await gq.updateSync(db, run.id, {
    status: 'running',
    startedAt: run.startedAt ?? new Date(),
    processed: 0,
    created: 0,
    updated: 0,
    error: null,
  });
  const timeout = AbortSignal.timeout(SYNC_TIMEOUT_MS);
  const bound = signal ? AbortSignal.any([signal, timeout]) : timeout;
  try {
    if (run.kind === 'groups') {
      if (!gateway.listGroups) throw new Error(`The ${gateway.name} gateway cannot list groups`);
      const groups = await gateway.listGroups({ signal: bound });
      await gq.updateSync(db, run.id, { total: groups.length });
      for (let i = 0; i < groups.length; i += SYNC_BATCH) {
        const batch = groups.slice(i, i + SYNC_BATCH);
        const r = await gq.upsertGroups(
          db,
          batch.map((g) => ({ jid: g.id, name: g.name, participants: g.participants })),
        );
        await gq.addSyncProgress(db, run.id, { processed: batch.length, ...r });
      }
    } else {
      if (!gateway.listContacts) throw new Error(`The ${gateway.name} gateway cannot list contacts`);
      const contacts = uniqueByPhone(await gateway.listContacts({ signal: bound }));
      await gq.updateSync(db, run.id, { total: contacts.length });
      for (let i = 0; i < contacts.length; i += SYNC_BATCH) {
        const batch = contacts.slice(i, i + SYNC_BATCH);
        const r = await cq.fillContactsFromGateway(db, batch);
        await gq.addSyncProgress(db, run.id, { processed: batch.length, ...r });
      }
    }
    await gq.updateSync(db, run.id, { status: 'completed', finishedAt: new Date() });
    return 'completed';
  } catch (err) {
    const reason = timeout.aborted
      ? `The gateway did not finish listing within ${SYNC_TIMEOUT_MS / 60_000} minutes`
      : err instanceof Error
        ? err.message
        : String(err);
    log.warn({ err, syncId, kind: run.kind }, 'gateway sync failed');
    await gq.updateSync(db, run.id, {
      status: 'failed',
      error: reason.slice(0, 500),
      finishedAt: new Date(),
    });
    return 'failed';
  }
}

/** One entry per phone: the first with a name wins; a later one may add the picture. */
function uniqueByPhone(list: GatewayContact[]): GatewayContact[] {
  const byPhone = new Map<string, GatewayContact>();
  for (const c of list) {
    const seen = byPhone.get(c.phone);
    if (!seen) byPhone.set(c.phone, { ...c });
    else {
      seen.name ??= c.name;
      seen.pictureUrl ??= c.pictureUrl;
    }
  }
  return [...byPhone.values()];
}

export async function defineGatewaySyncQueues(queue: JobQueue): Promise<void> {
  await queue.define({
    name: QUEUE_GATEWAY_SYNC,
    // A failed run is recorded on its row and started again by a person; the job itself is not retried.
    retryLimit: 0,
    expireInSeconds: Math.ceil(STALE_RUN_MS / 1000),
  });
}
