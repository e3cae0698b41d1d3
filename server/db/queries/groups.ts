import { and, desc, eq, ilike, inArray, lt, type SQL, sql } from 'drizzle-orm';
import {
  type GatewaySyncKind,
  type GroupParticipant,
  type GroupSendStatus,
  gatewaySyncs,
  groupMessages,
  groupSends,
  waGroups,
} from '../../../drizzle';
import type { DbOrTx } from '../types';

// ---- Groups ------------------------------------------------------------------------------------

const groupSummary = {
  id: waGroups.id,
  jid: waGroups.jid,
  name: waGroups.name,
  participantCount: waGroups.participantCount,
  syncedAt: waGroups.syncedAt,
};

export async function listGroups(db: DbOrTx, opts: { q?: string; limit: number }) {
  const where = opts.q ? ilike(waGroups.name, `%${escapeLike(opts.q)}%`) : undefined;
  return db
    .select(groupSummary)
    .from(waGroups)
    .where(where)
    .orderBy(sql`${waGroups.name} asc nulls last`, waGroups.jid)
    .limit(opts.limit);
}

export async function findGroup(db: DbOrTx, jid: string) {
  const [row] = await db
    .select({ ...groupSummary, participants: waGroups.participants })
    .from(waGroups)
    .where(eq(waGroups.jid, jid))
    .limit(1);
  return row ?? null;
}

/** Inserts or refreshes groups by JID; answers how many were new. */
export async function upsertGroups(
  db: DbOrTx,
  rows: Array<{ jid: string; name: string | null; participants: GroupParticipant[] }>,
): Promise<{ created: number; updated: number }> {
  if (rows.length === 0) return { created: 0, updated: 0 };
  const result = await db
    .insert(waGroups)
    .values(
      rows.map((r) => ({
        jid: r.jid,
        name: r.name,
        participants: r.participants,
        participantCount: r.participants.length,
        syncedAt: new Date(),
      })),
    )
    .onConflictDoUpdate({
      target: waGroups.jid,
      set: {
        name: sql`excluded.name`,
        participants: sql`excluded.participants`,
        participantCount: sql`excluded.participant_count`,
        syncedAt: sql`excluded.synced_at`,
        updatedAt: sql`now()`,
      },
    })
    .returning({ inserted: sql<boolean>`(xmax = 0)` });
  const created = result.filter((r) => r.inserted).length;
  return { created, updated: result.length - created };
}

// ---- Group sends -------------------------------------------------------------------------------

export type GroupSendInsert = typeof groupSends.$inferInsert;
export type GroupSendRow = typeof groupSends.$inferSelect;

export async function insertGroupSends(db: DbOrTx, rows: GroupSendInsert[]): Promise<GroupSendRow[]> {
  return db.insert(groupSends).values(rows).returning();
}

export async function findGroupSend(db: DbOrTx, id: string): Promise<GroupSendRow | null> {
  const [row] = await db.select().from(groupSends).where(eq(groupSends.id, id)).limit(1);
  return row ?? null;
}

export async function listGroupSends(
  db: DbOrTx,
  f: { jid?: string; batchId?: string; status?: GroupSendStatus; limit: number },
) {
  const where: SQL[] = [];
  if (f.jid) where.push(eq(groupSends.groupJid, f.jid));
  if (f.batchId) where.push(eq(groupSends.batchId, f.batchId));
  if (f.status) where.push(eq(groupSends.status, f.status));
  return db
    .select()
    .from(groupSends)
    .where(where.length ? and(...where) : undefined)
    .orderBy(desc(groupSends.sendAt), desc(groupSends.id))
    .limit(f.limit);
}

/** Cancels a send that has not started; null when it is not waiting any more (or does not exist). */
export async function cancelGroupSend(db: DbOrTx, id: string): Promise<GroupSendRow | null> {
  const [row] = await db
    .update(groupSends)
    .set({ status: 'cancelled', updatedAt: sql`now()` })
    .where(and(eq(groupSends.id, id), inArray(groupSends.status, ['scheduled', 'queued'])))
    .returning();
  return row ?? null;
}

/** Cancels every send of a group campaign that has not started; answers how many. */
export async function cancelGroupCampaign(db: DbOrTx, batchId: string): Promise<number> {
  const rows = await db
    .update(groupSends)
    .set({ status: 'cancelled', updatedAt: sql`now()` })
    .where(and(eq(groupSends.batchId, batchId), inArray(groupSends.status, ['scheduled', 'queued'])))
    .returning({ id: groupSends.id });
  return rows.length;
}

/** Takes a waiting send for the gateway call (scheduled or queued → sending); null when it is not waiting. */
export async function claimGroupSend(db: DbOrTx, id: string): Promise<GroupSendRow | null> {
  const [row] = await db
    .update(groupSends)
    .set({ status: 'sending', attempts: sql`${groupSends.attempts} + 1`, updatedAt: sql`now()` })
    .where(and(eq(groupSends.id, id), inArray(groupSends.status, ['scheduled', 'queued'])))
    .returning();
  return row ?? null;
}

/** A send back in the queue (rate limit, an error that surely left it unsent). */
export async function requeueGroupSend(db: DbOrTx, id: string, error: string | null) {
  await db
    .update(groupSends)
    .set({ status: 'queued', error, updatedAt: sql`now()` })
    .where(and(eq(groupSends.id, id), eq(groupSends.status, 'sending')));
}

export async function finishGroupSend(
  db: DbOrTx,
  id: string,
  outcome: { status: 'sent'; providerMessageId: string | null } | { status: 'failed'; error: string },
) {
  await db
    .update(groupSends)
    .set(
      outcome.status === 'sent'
        ? {
            status: 'sent',
            providerMessageId: outcome.providerMessageId,
            error: null,
            sentAt: sql`now()`,
            updatedAt: sql`now()`,
          }
        : { status: 'failed', error: outcome.error.slice(0, 1000), updatedAt: sql`now()` },
    )
    .where(eq(groupSends.id, id));
}

/** Sends still `sending` long after any gateway call would have ended: their process died. */
export async function failStaleGroupSends(db: DbOrTx, olderThanMs: number): Promise<number> {
  const rows = await db
    .update(groupSends)
    .set({
      status: 'failed',
      error: 'Sending was interrupted; it may not have been delivered',
      updatedAt: sql`now()`,
    })
    .where(
      and(
        eq(groupSends.status, 'sending'),
        lt(
          groupSends.updatedAt,
          sql`now() - ${sql.raw(`interval '${Math.round(olderThanMs)} milliseconds'`)}`,
        ),
      ),
    )
    .returning({ id: groupSends.id });
  return rows.length;
}

// ---- Group messages (inbound) ------------------------------------------------------------------

export async function insertGroupMessage(
  db: DbOrTx,
  row: typeof groupMessages.$inferInsert,
): Promise<{ id: string } | null> {
  const [r] = await db
    .insert(groupMessages)
    .values(row)
    .onConflictDoNothing({ target: groupMessages.providerMessageId })
    .returning({ id: groupMessages.id });
  return r ?? null;
}

export async function listGroupMessages(db: DbOrTx, f: { jid: string; before?: Date; limit: number }) {
  const where = [eq(groupMessages.groupJid, f.jid)];
  if (f.before) where.push(lt(groupMessages.sentAt, f.before));
  return db
    .select()
    .from(groupMessages)
    .where(and(...where))
    .orderBy(desc(groupMessages.sentAt), desc(groupMessages.id))
    .limit(f.limit);
}

// ---- Gateway sync runs -------------------------------------------------------------------------

export type GatewaySyncRow = typeof gatewaySyncs.$inferSelect;

/** The newest run of a kind, or null. */
export async function latestSync(db: DbOrTx, kind: GatewaySyncKind): Promise<GatewaySyncRow | null> {
  const [row] = await db
    .select()
    .from(gatewaySyncs)
    .where(eq(gatewaySyncs.kind, kind))
    .orderBy(desc(gatewaySyncs.createdAt), desc(gatewaySyncs.id))
    .limit(1);
  return row ?? null;
}

export async function findSync(db: DbOrTx, id: string): Promise<GatewaySyncRow | null> {
  const [row] = await db.select().from(gatewaySyncs).where(eq(gatewaySyncs.id, id)).limit(1);
  return row ?? null;
}

/** A new queued run, or null when one of this kind is queued or running already (one active per kind). */
export async function insertSync(
  db: DbOrTx,
  kind: GatewaySyncKind,
  startedBy: string | null,
): Promise<GatewaySyncRow | null> {
  const [row] = await db
    .insert(gatewaySyncs)
    .values({ kind, startedBy })
    .onConflictDoNothing({
      target: gatewaySyncs.kind,
      where: sql`status in ('queued', 'running')`,
    })
    .returning();
  return row ?? null;
}

export async function updateSync(
  db: DbOrTx,
  id: string,
  set: Partial<Omit<typeof gatewaySyncs.$inferInsert, 'id' | 'kind'>>,
) {
  await db
    .update(gatewaySyncs)
    .set({ ...set, updatedAt: sql`now()` })
    .where(eq(gatewaySyncs.id, id));
}

/** Adds one batch's counts to a run's progress. */
export async function addSyncProgress(
  db: DbOrTx,
  id: string,
  d: { processed: number; created: number; updated: number },
) {
  await db
    .update(gatewaySyncs)
    .set({
      processed: sql`${gatewaySyncs.processed} + ${d.processed}`,
      created: sql`${gatewaySyncs.created} + ${d.created}`,
      updated: sql`${gatewaySyncs.updated} + ${d.updated}`,
      updatedAt: sql`now()`,
    })
    .where(eq(gatewaySyncs.id, id));
}

function escapeLike(s: string): string {
  return s.replace(/[\\%_]/g, (c) => `\\${c}`);
}
