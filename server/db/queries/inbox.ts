import { and, asc, eq, sql } from 'drizzle-orm';
import {
  type ConversationStatus,
  cannedResponses,
  contacts,
  conversationNotes,
  conversations,
  type InboxMetricKind,
  inboxMetrics,
  type StoredActor,
  staff,
  tasks,
} from '../../../drizzle';
import { isUniqueViolation } from '../../errors';
import type { DbOrTx } from '../types';

/** The inbox state of a conversation, its row locked for the rest of the transaction. */
export async function lockInboxState(db: DbOrTx, conversationId: string) {
  const [row] = await db
    .select({
      id: conversations.id,
      contactId: conversations.contactId,
      owner: conversations.owner,
      status: conversations.status,
      snoozedUntil: conversations.snoozedUntil,
      assigneeId: conversations.assigneeId,
      labels: conversations.labels,
      unreadCount: conversations.unreadCount,
      waitingSince: conversations.waitingSince,
      turnStartedAt: conversations.turnStartedAt,
      turnAnsweredAt: conversations.turnAnsweredAt,
    })
    .from(conversations)
    .where(eq(conversations.id, conversationId))
    .for('update');
  return row ?? null;
}

/** The assignee of a conversation (visibility checks); null when there is no such conversation. */
export async function findAssignee(db: DbOrTx, conversationId: string) {
  const [row] = await db
    .select({ assigneeId: conversations.assigneeId })
    .from(conversations)
    .where(eq(conversations.id, conversationId))
    .limit(1);
  return row ?? null;
}

export async function setAssignee(db: DbOrTx, conversationId: string, assigneeId: string | null) {
  await db
    .update(conversations)
    .set({ assigneeId, updatedAt: new Date() })
    .where(eq(conversations.id, conversationId));
}

export async function setStatus(
  db: DbOrTx,
  conversationId: string,
  status: ConversationStatus,
  snoozedUntil: Date | null,
) {
  await db
    .update(conversations)
    .set({ status, snoozedUntil, updatedAt: new Date() })
    .where(eq(conversations.id, conversationId));
}

/**
 * Opens a snoozed conversation whose snooze is still the one that ended (a later snooze, a reopening
 * or a resolve since then leave it alone). Returns whether it opened.
 */
export async function wakeSnoozed(db: DbOrTx, conversationId: string, until: Date) {
  const rows = await db
    .update(conversations)
    .set({ status: 'open', snoozedUntil: null, updatedAt: new Date() })
    .where(
      and(
        eq(conversations.id, conversationId),
        eq(conversations.status, 'snoozed'),
        eq(conversations.snoozedUntil, until),
      ),
    )
    .returning({ id: conversations.id });
  return rows.length > 0;
}

export async function setLabels(db: DbOrTx, conversationId: string, labels: string[]) {
  await db
    .update(conversations)
    .set({ labels, updatedAt: new Date() })
    .where(eq(conversations.id, conversationId));
}

/** A staff member by id, for assignment (active or not: the service decides). */
export async function findStaffMember(db: DbOrTx, id: string) {
  const [row] = await db
    .select({ id: staff.id, name: staff.displayName, active: staff.active, role: staff.role })
    .from(staff)
    .where(eq(staff.id, id))
    .limit(1);
  return row ?? null;
}

/** The human-turn columns a handoff, a person's reply or a hand-back set. */
export async function setTurn(
  db: DbOrTx,
  conversationId: string,
  turn: {
    waitingSince?: Date | null;
    turnStartedAt?: Date | null;
    turnAnsweredAt?: Date | null;
    unreadCount?: number;
    status?: ConversationStatus;
    snoozedUntil?: Date | null;
    assigneeId?: string | null;
  },
) {
  await db
    .update(conversations)
    .set({ ...turn, updatedAt: new Date() })
    .where(eq(conversations.id, conversationId));
}

/** Completes the conversation's open handoff tasks; returns them. */
export async function completeOpenHandoffs(db: DbOrTx, conversationId: string, actor: StoredActor) {
  const now = new Date();
  return db
    .update(tasks)
    .set({ status: 'done', completedAt: now, completedByActor: actor, updatedAt: now })
    .where(and(eq(tasks.conversationId, conversationId), eq(tasks.type, 'handoff'), eq(tasks.status, 'open')))
    .returning({ id: tasks.id, contactId: tasks.contactId, dealId: tasks.dealId });
}

export async function insertMetric(
  db: DbOrTx,
  row: {
    kind: InboxMetricKind;
    conversationId: string;
    staffId: string | null;
    actor: StoredActor;
    startedAt: Date;
    at: Date;
  },
) {
  await db.insert(inboxMetrics).values({
    kind: row.kind,
    conversationId: row.conversationId,
    staffId: row.staffId,
    actorType: row.actor.type,
    actorId: row.actor.id,
    actorName: row.actor.name,
    startedAt: row.startedAt,
    at: row.at,
  });
}

/**
 * Round-robin routing: the active, available staff member with fewer than `cap` open or pending
 * conversations assigned who was given one longest ago (never first), marked as given one now.
 * A transaction-scoped advisory lock makes concurrent routings (in any process) take turns, so two
 * handoffs never both see the same person under the cap. Null when everyone is at the cap or away.
 */
export async function pickRoundRobin(db: DbOrTx, cap: number): Promise<{ id: string; name: string } | null> {
  await db.execute(sql`select pg_advisory_xact_lock(hashtext('wcb.inbox.routing'))`);
  const rows = await db.execute<{ id: string; name: string }>(sql`
    with load as (
      select assignee_id, count(*)::int as n from ${conversations}
      where assignee_id is not null and status in ('open','pending') group by assignee_id
    ),
    chosen as (
      select s.id from ${staff} s left join load l on l.assignee_id = s.id
      where s.active and s.available and coalesce(l.n, 0) < ${cap}
      order by s.last_assigned_at asc nulls first, s.id
      limit 1
    )
    update ${staff} s set last_assigned_at = clock_timestamp() from chosen
    where s.id = chosen.id
    returning s.id, s.display_name as name`);
  return rows[0] ?? null;
}

/** Sidebar counts; `me` is the signed-in person (null for API keys), `visibleTo` the visibility limit. */
export async function inboxCounts(db: DbOrTx, p: { me: string | null; visibleTo: string | null }) {
  const rows = await db.execute<Record<string, number>>(sql`
    select
      count(*) filter (where v.assignee_id = ${p.me}::uuid and v.status <> 'resolved')::int as mine,
      count(*) filter (where v.assignee_id is null and v.status <> 'resolved')::int as unassigned,
      count(*) filter (where v.status <> 'resolved')::int as all,
      count(*) filter (where v.status = 'open')::int as open,
      count(*) filter (where v.status = 'pending')::int as pending,
      count(*) filter (where v.status = 'resolved')::int as resolved,
      count(*) filter (where v.status = 'snoozed')::int as snoozed
    from ${conversations} v join ${contacts} c on c.id = v.contact_id
    where c.deleted_at is null
      and (${p.visibleTo}::uuid is null or v.assignee_id is null or v.assignee_id = ${p.visibleTo}::uuid)`);
  return rows[0]!;
}

const noteColumns = {
  id: conversationNotes.id,
  conversationId: conversationNotes.conversationId,
  body: conversationNotes.body,
  authorType: conversationNotes.authorType,
  authorId: conversationNotes.authorId,
  authorName: conversationNotes.authorName,
  createdAt: conversationNotes.createdAt,
};

export async function insertNote(db: DbOrTx, row: typeof conversationNotes.$inferInsert) {
  const [created] = await db.insert(conversationNotes).values(row).returning(noteColumns);
  return created!;
}

/** A conversation's notes, oldest first (at most 500). */
export function listNotes(db: DbOrTx, conversationId: string) {
  return db
    .select(noteColumns)
    .from(conversationNotes)
    .where(eq(conversationNotes.conversationId, conversationId))
    .orderBy(asc(conversationNotes.createdAt), asc(conversationNotes.id))
    .limit(500);
}

export async function findNote(db: DbOrTx, conversationId: string, noteId: string) {
  const [row] = await db
    .select(noteColumns)
    .from(conversationNotes)
    .where(and(eq(conversationNotes.id, noteId), eq(conversationNotes.conversationId, conversationId)))
    .limit(1);
  return row ?? null;
}

export async function deleteNote(db: DbOrTx, noteId: string) {
  await db.delete(conversationNotes).where(eq(conversationNotes.id, noteId));
}

const cannedColumns = {
  id: cannedResponses.id,
  code: cannedResponses.code,
  text: cannedResponses.text,
  createdAt: cannedResponses.createdAt,
  updatedAt: cannedResponses.updatedAt,
};

export function listCanned(db: DbOrTx) {
  return db.select(cannedColumns).from(cannedResponses).orderBy(asc(cannedResponses.code)).limit(1000);
}

export async function findCanned(db: DbOrTx, by: { id: string } | { code: string }) {
  const [row] = await db
    .select(cannedColumns)
    .from(cannedResponses)
    .where('id' in by ? eq(cannedResponses.id, by.id) : eq(cannedResponses.code, by.code))
    .limit(1);
  return row ?? null;
}

/** Inserts a canned response; null when the code is taken. */
export async function insertCanned(db: DbOrTx, row: { code: string; text: string }) {
  const [created] = await db
    .insert(cannedResponses)
    .values(row)
    .onConflictDoNothing({ target: cannedResponses.code })
    .returning(cannedColumns);
  return created ?? null;
}

/** Updates a canned response; 'taken' when the new code belongs to another one, null when not found. */
export async function updateCanned(db: DbOrTx, id: string, patch: { code?: string; text?: string }) {
  try {
    const [row] = await db
      .update(cannedResponses)
      .set({ ...patch, updatedAt: new Date() })
      .where(eq(cannedResponses.id, id))
      .returning(cannedColumns);
    return row ?? null;
  } catch (err) {
    if (isUniqueViolation(err)) return 'taken' as const;
    throw err;
  }
}

export async function deleteCanned(db: DbOrTx, id: string) {
  const rows = await db
    .delete(cannedResponses)
    .where(eq(cannedResponses.id, id))
    .returning({ id: cannedResponses.id });
  return rows.length > 0;
}
