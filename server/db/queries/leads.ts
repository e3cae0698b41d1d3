import { and, asc, eq, gt, gte, inArray, lt, type SQL, sql } from 'drizzle-orm';
import {
  activities,
  campaignRecipients,
  contacts,
  conversations,
  deals,
  type LeadStatus,
  leadQualifications,
  messages,
  tasks,
} from '../../../drizzle';
import type { DbOrTx } from '../types';
import { textArray } from './contacts';
import { enqueueJobsSql } from './jobs';

/** What the scoring rules look at for one contact. */
export interface ScoringFacts {
  id: string;
  name: string | null;
  pushName: string | null;
  email: string | null;
  company: string | null;
  position: string | null;
  lastInboundAt: Date | null;
  inboundCount: number;
  /** Highest value of the contact's deals that are not lost, as an exact decimal string. */
  topDealValue: string | null;
  campaignReplies: number;
  /** Tasks about the contact that are done (calls, meetings, follow-ups held). */
  doneTasks?: number;
  /** The score of the model's latest assessment of the lead, or null when none was made. */
  qualificationScore?: number | null;
}

export function scoringFacts(db: DbOrTx, contactIds: string[]): Promise<ScoringFacts[]> {
  return db
    .select({
      id: contacts.id,
      name: contacts.name,
      pushName: contacts.pushName,
      email: contacts.email,
      company: contacts.company,
      position: contacts.position,
      lastInboundAt: contacts.lastInboundAt,
      inboundCount: sql<number>`coalesce((select count(*) from ${messages}
        where ${messages.conversationId} = ${conversations.id} and ${messages.direction} = 'inbound'), 0)::int`,
      topDealValue: sql<string | null>`(select max(${deals.value})::text from ${deals}
        where ${deals.contactId} = ${contacts.id} and ${deals.deletedAt} is null and ${deals.stage} <> 'lost')`,
      campaignReplies: sql<number>`(select count(*) from ${campaignRecipients}
        where ${campaignRecipients.contactId} = ${contacts.id} and ${campaignRecipients.repliedAt} is not null)::int`,
      doneTasks: sql<number>`(select count(*) from ${tasks}
        where ${tasks.contactId} = ${contacts.id} and ${tasks.status} = 'done')::int`,
      qualificationScore: sql<number | null>`(select ${leadQualifications.score} from ${leadQualifications}
        where ${leadQualifications.contactId} = ${contacts.id}
        order by ${leadQualifications.assessedAt} desc limit 1)`,
    })
    .from(contacts)
    .leftJoin(conversations, eq(conversations.contactId, contacts.id))
    .where(inArray(contacts.id, contactIds));
}

/** Which contacts a rescore covers. */
export interface RescoreFilter {
  contactIds?: string[];
  status?: LeadStatus;
  source?: string;
  tag?: string;
}

const rescoreConditions = (f: RescoreFilter): (SQL | undefined)[] => [
  sql`${contacts.deletedAt} is null`,
  f.contactIds ? inArray(contacts.id, f.contactIds) : undefined,
  f.status ? eq(contacts.leadStatus, f.status) : undefined,
  f.source ? eq(contacts.source, f.source) : undefined,
  f.tag ? sql`${contacts.tags} @> ${textArray([f.tag])}` : undefined,
];

/** Ids of contacts to rescore, in id order, one batch after another. */
export async function contactIdsToScore(
  db: DbOrTx,
  f: RescoreFilter & { afterId: string | null; limit: number },
) {
  const rows = await db
    .select({ id: contacts.id })
    .from(contacts)
    .where(and(...rescoreConditions(f), f.afterId ? gt(contacts.id, f.afterId) : undefined))
    .orderBy(asc(contacts.id))
    .limit(f.limit);
  return rows.map((r) => r.id);
}

/** How many contacts a rescore with this filter covers. */
export async function countContactsToScore(db: DbOrTx, f: RescoreFilter): Promise<number> {
  const [row] = await db
    .select({ n: sql<number>`count(*)::int` })
    .from(contacts)
    .where(and(...rescoreConditions(f)));
  return row?.n ?? 0;
}

/** The pg-boss queue of rescore runs (one job per run, `{ runId }`). */
export const QUEUE_LEADS_RESCORE = 'leads.rescore';
/** The `system_state` key holding the latest rescore run. */
export const RESCORE_STATE_KEY = 'leads.rescore';

/** Enqueues a run's job on the caller's transaction (so run and job commit together). */
export async function enqueueRescoreJob(db: DbOrTx, runId: string): Promise<void> {
  const rows = await db.execute(
    enqueueJobsSql(
      QUEUE_LEADS_RESCORE,
      sql`select ${JSON.stringify({ runId })}::jsonb as data, now() as start_after`,
    ),
  );
  if (!rows.length) throw new Error(`job queue ${QUEUE_LEADS_RESCORE} is not defined`);
}

/** True while a run's job may still run: waiting, retrying or active in pg-boss. */
export async function rescoreJobAlive(db: DbOrTx, runId: string): Promise<boolean> {
  const [row] = await db.execute<{ alive: boolean }>(sql`
    select exists (select 1 from pgboss.job
      where name = ${QUEUE_LEADS_RESCORE} and data ->> 'runId' = ${runId} and state < 'completed') as alive`);
  return Boolean(row?.alive);
}

export const STATUS_CHANGE_ACTIVITY = 'lead_status_changed';

/** The funnel order of lead statuses; lost stands outside it. */
export const FUNNEL: LeadStatus[] = ['new', 'contacted', 'qualified', 'proposal', 'customer'];

const rankOf = (expr: SQL) =>
  sql`(case ${expr} when 'new' then 0 when 'contacted' then 1 when 'qualified' then 2 when 'proposal' then 3 when 'customer' then 4 else 0 end)`;

function periodConditions(p: { from?: Date; to?: Date }): (SQL | undefined)[] {
  return [
    sql`${contacts.deletedAt} is null`,
    p.from ? gte(contacts.createdAt, p.from) : undefined,
    p.to ? lt(contacts.createdAt, p.to) : undefined,
  ];
}

/**
 * Contacts created in the period, grouped by current status and the furthest funnel status they ever
 * reached (their current one, or any status their history shows).
 */
export function funnelCounts(db: DbOrTx, p: { from?: Date; to?: Date }) {
  const history = db
    .select({
      contactId: activities.contactId,
      maxRank: sql<number>`max(${rankOf(sql`${activities.metadata}->>'to'`)})`.as('max_rank'),
    })
    .from(activities)
    .where(eq(activities.type, STATUS_CHANGE_ACTIVITY))
    .groupBy(activities.contactId)
    .as('h');
  return db
    .select({
      status: contacts.leadStatus,
      reachedRank: sql<number>`greatest(${rankOf(sql`${contacts.leadStatus}`)}, coalesce(${history.maxRank}, 0))::int`,
      count: sql<number>`count(*)::int`,
    })
    .from(contacts)
    .leftJoin(history, eq(history.contactId, contacts.id))
    .where(and(...periodConditions(p)))
    .groupBy(sql`1`, sql`2`);
}

const leadCounts = {
  contacts: sql<number>`count(*)::int`,
  qualified: sql<number>`count(*) filter (where ${contacts.leadStatus} in ('qualified', 'proposal', 'customer'))::int`,
  customers: sql<number>`count(*) filter (where ${contacts.leadStatus} = 'customer')::int`,
  lost: sql<number>`count(*) filter (where ${contacts.leadStatus} = 'lost')::int`,
  averageScore: sql<number>`coalesce(round(avg(${contacts.leadScore}), 1), 0)::float8`,
};

export function leadsBySource(db: DbOrTx, p: { from?: Date; to?: Date }) {
  return db
    .select({ source: contacts.source, ...leadCounts })
    .from(contacts)
    .where(and(...periodConditions(p)))
    .groupBy(contacts.source)
    .orderBy(sql`count(*) desc`, contacts.source)
    .limit(500);
}

export async function leadsByPeriod(
  db: DbOrTx,
  p: { from?: Date; to?: Date; unit: 'day' | 'week' | 'month' },
) {
  if (!['day', 'week', 'month'].includes(p.unit)) throw new Error(`unknown period unit ${p.unit}`);
  // The unit is one of three fixed words, inlined so select, group by and order by share one expression.
  const bucket = sql`date_trunc(${sql.raw(`'${p.unit}'`)}, ${contacts.createdAt} at time zone 'UTC')`;
  const rows = await db
    .select({ periodStart: sql<string>`(${bucket})::text`, ...leadCounts })
    .from(contacts)
    .where(and(...periodConditions(p)))
    .groupBy(bucket)
    .orderBy(sql`${bucket} desc`)
    .limit(1000);
  return rows.reverse().map((r) => ({ ...r, periodStart: new Date(`${r.periodStart.replace(' ', 'T')}Z`) }));
}
