import { and, desc, eq, sql } from 'drizzle-orm';
import {
  contacts,
  conversations,
  leadQualifications,
  messages,
  type StoredAssessment,
  tasks,
} from '../../../drizzle';
import type { DbOrTx } from '../types';
import { enqueueJobsSql } from './jobs';
import { rawOnce } from './prepared';

/** Assesses a conversation once it has been quiet long enough (one waiting job per conversation). */
export const QUEUE_LEADS_QUALIFY = 'leads.qualify';
/** Recomputes one contact's stored lead score (one waiting job per contact). */
export const QUEUE_LEADS_SCORE = 'leads.score';

export interface QualifyJob {
  conversationId: string;
}
export interface ScoreJob {
  contactId: string;
}

/** Uuids as one Postgres array literal (cast with `::uuid[]`). */
const uuidArray = (ids: string[]) => `{${ids.join(',')}}`;
const uuids = (ids: string[]) => sql`${uuidArray(ids)}::uuid[]`;

const qualifyRows = (conversationIds: string[], afterMs: number) => sql`
  select jsonb_build_object('conversationId', id) as data,
    now() + ${afterMs}::int * interval '1 millisecond' as start_after,
    id::text as singleton_key
  from unnest(${uuids(conversationIds)}) as id`;

/** Each conversation's contact's rescore job, `rescoreAfterMs` from now (`ids`: the conversations). */
const scoreJobsSql = () =>
  enqueueJobsSql(
    QUEUE_LEADS_SCORE,
    sql`select jsonb_build_object('contactId', v.contact_id) as data,
        now() + ${sql.placeholder('rescoreAfterMs')}::int * interval '1 millisecond' as start_after,
        v.contact_id::text as singleton_key
      from ${conversations} v where v.id = any(${sql.placeholder('ids')}::uuid[])`,
    { singletonKey: true },
  );

/** Each conversation's assessment job, `qualifyAfterMs` from now (`ids`: the conversations). */
const qualifyJobsSql = () =>
  enqueueJobsSql(
    QUEUE_LEADS_QUALIFY,
    sql`select jsonb_build_object('conversationId', id) as data,
        now() + ${sql.placeholder('qualifyAfterMs')}::int * interval '1 millisecond' as start_after,
        id::text as singleton_key
      from unnest(${sql.placeholder('ids')}::uuid[]) as id`,
    { singletonKey: true },
  );

/** The statements of `enqueueAfterCustomerMessages`, built once: rescore only, and rescore with assessment. */
const rescoreAfterMessages = rawOnce(() => sql`with score as (${scoreJobsSql()}) select 1`);
const rescoreAndQualifyAfterMessages = rawOnce(
  () => sql`with score as (${scoreJobsSql()}), qualify as (${qualifyJobsSql()}) select 1`,
);

/**
 * After customers' messages: in ONE statement, each conversation's assessment job (when `qualifyAfterMs`
 * is given) and its contact's rescore job. Each queue keeps at most one waiting job per key, so while one
 * waits this inserts nothing for it.
 */
export async function enqueueAfterCustomerMessages(
  db: DbOrTx,
  p: { conversationIds: string[]; qualifyAfterMs: number | null; rescoreAfterMs: number },
): Promise<void> {
  const ids = [...new Set(p.conversationIds)];
  if (!ids.length) return;
  const values = { ids: uuidArray(ids), rescoreAfterMs: p.rescoreAfterMs };
  if (p.qualifyAfterMs === null) await rescoreAfterMessages(db).execute(values);
  else await rescoreAndQualifyAfterMessages(db).execute({ ...values, qualifyAfterMs: p.qualifyAfterMs });
}

/** Schedules the assessment of a conversation at a later time (a job waiting for it stays as is). */
export async function enqueueQualify(db: DbOrTx, conversationId: string, afterMs: number): Promise<void> {
  await db.execute(
    enqueueJobsSql(QUEUE_LEADS_QUALIFY, qualifyRows([conversationId], Math.max(0, Math.round(afterMs))), {
      singletonKey: true,
    }),
  );
}

/** Schedules the rescore of these contacts (on the caller's transaction when given one). */
export async function enqueueRescore(db: DbOrTx, contactIds: string[], afterMs: number): Promise<void> {
  const ids = [...new Set(contactIds)];
  if (!ids.length) return;
  await db.execute(
    enqueueJobsSql(
      QUEUE_LEADS_SCORE,
      sql`select jsonb_build_object('contactId', id) as data,
          now() + ${afterMs}::int * interval '1 millisecond' as start_after, id::text as singleton_key
        from unnest(${uuids(ids)}) as id`,
      { singletonKey: true },
    ),
  );
}

/** The conversation's contact and the customer's latest message (null when it has none). */
export async function qualificationTarget(db: DbOrTx, conversationId: string) {
  const [row] = await db
    .select({
      contactId: conversations.contactId,
      lastMessageId: messages.id,
      lastInboundAt: messages.createdAt,
    })
    .from(conversations)
    .innerJoin(
      messages,
      and(eq(messages.conversationId, conversations.id), eq(messages.direction, 'inbound')),
    )
    .where(eq(conversations.id, conversationId))
    .orderBy(desc(messages.createdAt), desc(messages.id))
    .limit(1);
  return row ?? null;
}

/** True when the quiet period ending with this message was already assessed. */
export async function periodAssessed(db: DbOrTx, conversationId: string, lastMessageId: string) {
  const [row] = await db
    .select({ id: leadQualifications.id })
    .from(leadQualifications)
    .where(
      and(
        eq(leadQualifications.conversationId, conversationId),
        eq(leadQualifications.lastMessageId, lastMessageId),
      ),
    )
    .limit(1);
  return row !== undefined;
}

/** The conversation's latest messages with text, oldest first. */
export async function transcript(db: DbOrTx, conversationId: string, limit: number) {
  const rows = await db
    .select({
      direction: messages.direction,
      author: messages.author,
      body: messages.body,
      createdAt: messages.createdAt,
    })
    .from(messages)
    .where(and(eq(messages.conversationId, conversationId), sql`${messages.body} is not null`))
    .orderBy(desc(messages.createdAt), desc(messages.id))
    .limit(limit);
  return rows.reverse();
}

/** Locks the contact's row for the rest of the transaction; false when the contact is gone. */
export async function lockContact(db: DbOrTx, contactId: string): Promise<boolean> {
  const rows = await db
    .select({ id: contacts.id })
    .from(contacts)
    .where(eq(contacts.id, contactId))
    .for('update');
  return rows.length > 0;
}

/**
 * Stores an assessment unless its quiet period already has one (the unique index decides); the new
 * row's id, or null.
 */
export async function insertQualification(
  db: DbOrTx,
  row: {
    contactId: string;
    conversationId: string;
    lastMessageId: string;
    assessment: StoredAssessment;
    model: string;
  },
): Promise<string | null> {
  const [created] = await db
    .insert(leadQualifications)
    .values({ ...row, score: row.assessment.score })
    .onConflictDoNothing({ target: [leadQualifications.conversationId, leadQualifications.lastMessageId] })
    .returning({ id: leadQualifications.id });
  return created?.id ?? null;
}

/** True when an assessment of this contact created a sales task that is still open. */
export async function hasOpenQualificationTask(db: DbOrTx, contactId: string): Promise<boolean> {
  const [row] = await db
    .select({ id: tasks.id })
    .from(leadQualifications)
    .innerJoin(tasks, eq(tasks.id, leadQualifications.taskId))
    .where(and(eq(leadQualifications.contactId, contactId), eq(tasks.status, 'open')))
    .limit(1);
  return row !== undefined;
}

export async function setQualificationTask(db: DbOrTx, id: string, taskId: string): Promise<void> {
  await db.update(leadQualifications).set({ taskId }).where(eq(leadQualifications.id, id));
}
