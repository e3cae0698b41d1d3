import { sql } from 'drizzle-orm';
import { conversations, inboxMetrics, messages, staff } from '../../../drizzle';
import type { DbOrTx } from '../types';

/** Customers waiting for a person now, and those waiting longer than the SLA. */
export async function waitingNow(db: DbOrTx, slaMinutes: number) {
  const rows = await db.execute<{ waiting: number; over: number }>(sql`
    select count(*)::int as waiting,
      count(*) filter (where ${conversations.waitingSince} < now() - ${slaMinutes} * interval '1 minute')::int as over
    from ${conversations}
    where ${conversations.waitingSince} is not null and ${conversations.status} in ('open', 'pending')`);
  return { waiting: Number(rows[0]!.waiting), over: Number(rows[0]!.over) };
}

/** First replies of people in [from, to): how many, and the wait's median and p90 in ms. */
export async function humanWait(db: DbOrTx, from: Date, to: Date) {
  const rows = await db.execute<{ n: number; median: number | null; p90: number | null }>(sql`
    select count(*)::int as n,
      percentile_cont(0.5) within group (order by extract(epoch from (at - started_at)) * 1000) as median,
      percentile_cont(0.9) within group (order by extract(epoch from (at - started_at)) * 1000) as p90
    from ${inboxMetrics}
    where kind = 'first_response' and at >= ${from.toISOString()}::timestamptz and at < ${to.toISOString()}::timestamptz`);
  const r = rows[0]!;
  return { n: Number(r.n), median: num(r.median), p90: num(r.p90) };
}

export type AgentStatsRow = {
  staff_id: string;
  name: string;
  role: 'admin' | 'agent';
  active: boolean;
  available: boolean;
  handled: number;
  sent: number;
  frt_median: number | null;
  frt_p90: number | null;
  res_median: number | null;
  res_p90: number | null;
  load_open: number;
  load_pending: number;
};

/** Per staff member: messages and conversations in [from, to), response and resolution times, load now. */
export async function agentStats(db: DbOrTx, from: Date, to: Date) {
  const f = sql`${from.toISOString()}::timestamptz`;
  const t = sql`${to.toISOString()}::timestamptz`;
  const rows = await db.execute<AgentStatsRow>(sql`
    with sent as (
      select actor_id, count(*)::int as sent, count(distinct conversation_id)::int as handled
      from ${messages}
      where actor_type = 'staff' and author = 'agent' and part_index = 0
        and created_at >= ${f} and created_at < ${t}
      group by actor_id
    ),
    times as (
      select staff_id,
        percentile_cont(0.5) within group (order by extract(epoch from (at - started_at)) * 1000)
          filter (where kind = 'first_response') as frt_median,
        percentile_cont(0.9) within group (order by extract(epoch from (at - started_at)) * 1000)
          filter (where kind = 'first_response') as frt_p90,
        percentile_cont(0.5) within group (order by extract(epoch from (at - started_at)) * 1000)
          filter (where kind = 'resolution') as res_median,
        percentile_cont(0.9) within group (order by extract(epoch from (at - started_at)) * 1000)
          filter (where kind = 'resolution') as res_p90
      from ${inboxMetrics}
      where staff_id is not null and at >= ${f} and at < ${t}
      group by staff_id
    ),
    load as (
      select assignee_id,
        count(*) filter (where status = 'open')::int as load_open,
        count(*) filter (where status = 'pending')::int as load_pending
      from ${conversations} where assignee_id is not null group by assignee_id
    )
    select s.id as staff_id, s.display_name as name, s.role, s.active, s.available,
      coalesce(x.handled, 0) as handled, coalesce(x.sent, 0) as sent,
      tm.frt_median, tm.frt_p90, tm.res_median, tm.res_p90,
      coalesce(l.load_open, 0) as load_open, coalesce(l.load_pending, 0) as load_pending
    from ${staff} s
    left join sent x on x.actor_id = s.id::text
    left join times tm on tm.staff_id = s.id
    left join load l on l.assignee_id = s.id
    order by s.display_name, s.id`);
  return [...rows];
}

function num(v: unknown): number | null {
  return v === null || v === undefined ? null : Math.round(Number(v));
}
export const durationOf = num;
