import { type AnyColumn, type SQL, sql } from 'drizzle-orm';
import {
  botEvents,
  campaignRecipients,
  campaigns,
  contacts,
  conversations,
  deals,
  messageStats,
  messages,
  tasks,
} from '../../../drizzle';
import type { DbOrTx } from '../types';

export interface DashboardRow {
  now: string;
  contacts_total: number;
  contacts_new_today: number;
  contacts_new_7d: number;
  conversations_total: number;
  conversations_bot: number;
  conversations_human: number;
  conversations_unread: number;
  unread_messages: number;
  open_handoffs: number;
  messages_today_in: number;
  messages_today_out: number;
  messages_7d_in: number;
  messages_7d_out: number;
  tasks_open: number;
  tasks_overdue: number;
  deals_open: number;
  pipeline_value: { currency: string; value: string }[] | string;
  campaigns_running: number;
}

/** Midnight today in the given time zone, as a timestamptz expression. */
const today = (timeZone: string) =>
  sql`(date_trunc('day', now() at time zone ${timeZone}) at time zone ${timeZone})`;

/** The rollup's grain: every time zone's offset from UTC is a whole number of 15 minutes. */
const BUCKET = sql.raw(`interval '15 minutes'`);
const BUCKET_ORIGIN = sql.raw(`timestamptz '2000-01-01 00:00:00+00'`);

/** A period's bounds as expressions (of the parameters and now()) that the planner can estimate. */
interface Bounds {
  f: SQL;
  t: SQL;
}

/**
 * Message figures over [f, t) as CTEs: `closed` (message_stats rows of the whole 15-minute buckets
 * inside the period that ended over an hour ago) and `live` (the messages of the rest: the partial
 * buckets at the period's edges and the last hour or so, read by created_at). Closed buckets missing
 * from message_stats are computed here from messages and saved (a data-modifying CTE runs whether
 * or not it is read; a concurrent read saving the same bucket is ignored), so the first read to need
 * a bucket pays for it, once. The bounds are spelled out rather than read from a one-row subquery so
 * the planner estimates these small ranges as small (a big estimate would switch on JIT compilation,
 * which costs more than the whole query).
 */
function messageFigures({ f, t }: Bounds) {
  const r = messageStats;
  // [a, e): the closed buckets inside the period; empty when a = e.
  const a = sql`(date_bin(${BUCKET}, ${f} - interval '1 microsecond', ${BUCKET_ORIGIN}) + ${BUCKET})`;
  const e = sql`greatest(${a}, least(date_bin(${BUCKET}, ${t}, ${BUCKET_ORIGIN}),
                                     date_bin(${BUCKET}, now() - interval '1 hour', ${BUCKET_ORIGIN})))`;
  const aiUsage = sql`m.author = 'bot' and m.ai is not null`;
  return sql`
      with have as (
        select ${r.bucketStart} as s, ${r.inbound} as inbound, ${r.outbound} as outbound, ${r.aiReplies} as ai_replies,
               ${r.aiPromptTokens} as ai_prompt_tokens, ${r.aiCompletionTokens} as ai_completion_tokens,
               ${r.aiLatencies} as ai_latencies
        from ${r} where ${r.bucketStart} >= ${a} and ${r.bucketStart} < ${e}
      ), missing as (
        select g as s from generate_series(${a}, ${e} - ${BUCKET}, ${BUCKET}) g
        except all
        select s from have
      ), counted as (
        select date_bin(${BUCKET}, m.created_at, ${BUCKET_ORIGIN}) as s,
               count(*) filter (where m.direction = 'inbound')::int as inbound,
               count(*) filter (where m.direction = 'outbound')::int as outbound,
               count(*) filter (where ${aiUsage})::int as ai_replies,
               coalesce(sum((m.ai->>'promptTokens')::float8) filter (where ${aiUsage}), 0)::float8 as ai_prompt_tokens,
               coalesce(sum((m.ai->>'completionTokens')::float8) filter (where ${aiUsage}), 0)::float8 as ai_completion_tokens,
               array_agg((m.ai->>'latencyMs')::float8)
                 filter (where ${aiUsage} and m.ai->>'latencyMs' is not null) as ai_latencies
        from ${messages} m
        where m.created_at >= (select min(s) from missing) and m.created_at < (select max(s) from missing) + ${BUCKET}
        group by 1
      ), computed as (
        select missing.s, coalesce(c.inbound, 0) as inbound, coalesce(c.outbound, 0) as outbound,
               coalesce(c.ai_replies, 0) as ai_replies, coalesce(c.ai_prompt_tokens, 0) as ai_prompt_tokens,
               coalesce(c.ai_completion_tokens, 0) as ai_completion_tokens, c.ai_latencies
        from missing left join counted c on c.s = missing.s
      ), saved as (
        -- In bucket order: statements saving overlapping buckets side by side wait on each other in
        -- the same order, never in a cycle (a deadlock).
        insert into ${r} (bucket_start, inbound, outbound, ai_replies, ai_prompt_tokens, ai_completion_tokens, ai_latencies)
        select * from computed order by s
        on conflict do nothing
      ), closed as (
        select * from have union all select * from computed
      ), live as (
        select m.created_at, m.direction, m.author, m.ai from ${messages} m
        where m.created_at >= ${f} and m.created_at < least(${a}, ${t})
        union all
        select m.created_at, m.direction, m.author, m.ai from ${messages} m
        where m.created_at >= ${e} and m.created_at < ${t}
      )`;
}

/**
 * The dashboard's figures as three independent statements, sent together (one round trip, and on
 * Postgres they run side by side on separate connections). Every part reads an index or a small
 * table: live contacts and their creation times from a partial index, conversations of deleted
 * contacts through a partial index of those, message counts from the message_stats rollup (see
 * messageFigures), open handoffs and the open pipeline from partial indexes.
 */
export function dashboardQueries(timeZone: string): { people: SQL; traffic: SQL; work: SQL } {
  const live = sql`${contacts.deletedAt} is null`;
  return {
    people: sql`
      select now()::text as now,
        (select count(*) from ${contacts} where ${live})::int as contacts_total,
        (select count(*) from ${contacts} where ${live} and ${contacts.createdAt} >= ${today(timeZone)})::int as contacts_new_today,
        (select count(*) from ${contacts} where ${live} and ${contacts.createdAt} >= ${today(timeZone)} - interval '6 days')::int as contacts_new_7d,
        cv.*,
        (select count(*) from ${tasks} where ${tasks.type} = 'handoff' and ${tasks.status} = 'open')::int as open_handoffs
      from (
        select count(*)::int as conversations_total,
               count(*) filter (where ${conversations.owner} = 'bot')::int as conversations_bot,
               count(*) filter (where ${conversations.owner} = 'human')::int as conversations_human,
               count(*) filter (where ${conversations.unreadCount} > 0)::int as conversations_unread,
               coalesce(sum(${conversations.unreadCount}), 0)::int as unread_messages
        from ${conversations}
        where not exists (
          select 1 from ${contacts} d where d.id = ${conversations.contactId} and d.deleted_at is not null)
      ) cv`,
    // Messages of the last 7 days (today's among them) from the rollup and the last hour's messages.
    traffic: sql`${messageFigures({ f: sql`${today(timeZone)} - interval '6 days'`, t: sql`now()` })}
      select
        ((select coalesce(sum(inbound), 0) from closed where s >= ${today(timeZone)})
          + (select count(*) from live where direction = 'inbound' and created_at >= ${today(timeZone)}))::int as messages_today_in,
        ((select coalesce(sum(outbound), 0) from closed where s >= ${today(timeZone)})
          + (select count(*) from live where direction = 'outbound' and created_at >= ${today(timeZone)}))::int as messages_today_out,
        ((select coalesce(sum(inbound), 0) from closed)
          + (select count(*) from live where direction = 'inbound'))::int as messages_7d_in,
        ((select coalesce(sum(outbound), 0) from closed)
          + (select count(*) from live where direction = 'outbound'))::int as messages_7d_out`,
    work: sql`
      with d as (
        select ${deals.currency} as currency, count(*) as n, sum(${deals.value}) as total
        from ${deals}
        where ${deals.deletedAt} is null and ${deals.stage} not in ('won', 'lost')
        group by ${deals.currency}
      )
      select
        (select count(*) from ${tasks} where ${tasks.status} = 'open')::int as tasks_open,
        (select count(*) from ${tasks} where ${tasks.status} = 'open' and ${tasks.dueAt} < now())::int as tasks_overdue,
        (select coalesce(sum(n), 0) from d)::int as deals_open,
        (select coalesce(json_agg(json_build_object('currency', currency, 'value', total::text) order by currency),
                         '[]'::json) from d) as pipeline_value,
        (select count(*) from ${campaigns} where ${campaigns.status} = 'running')::int as campaigns_running`,
  };
}

export async function dashboard(db: DbOrTx, timeZone: string): Promise<DashboardRow> {
  const q = dashboardQueries(timeZone);
  const [[people], [traffic], [work]] = await Promise.all([
    db.execute<Record<string, unknown>>(q.people),
    db.execute<Record<string, unknown>>(q.traffic),
    db.execute<Record<string, unknown>>(q.work),
  ]);
  return { ...people, ...traffic, ...work } as unknown as DashboardRow;
}

/* ------------------------------------------------------------------ the period */

export interface DashboardPeriod {
  /** null: 30 days before `to`. */
  from: Date | null;
  /** null: now. */
  to: Date | null;
}

export interface DashboardPeriodRow {
  from_ms: number;
  to_ms: number;
  contacts_new_period: number;
  messages_in: number;
  messages_out: number;
  per_day: { day: string; inbound: number; outbound: number }[] | string | null;
  conversations_active: number;
  bot_conversations: number;
  bot_contained: number;
  handoffs: number;
  handoff_reasons: { reason: string | null; count: number }[] | string | null;
  ai_replies: number;
  ai_latency_median: number | null;
  ai_latency_p95: number | null;
  ai_prompt_tokens: number;
  ai_completion_tokens: number;
  campaign_sent: number;
  campaign_delivered: number;
  campaign_read: number;
  campaign_failed: number;
  lead_funnel: { status: string; count: number }[] | string | null;
}

/**
 * The figures over a period [from, to), as four independent statements sent together. Message
 * counts, AI usage and latencies come from the message_stats rollup for the closed 15-minute buckets
 * inside the period and from messages for the rest (see messageFigures). A conversation's
 * last_message_at / last_inbound_at (its newest message times) rule it out when older than the
 * period and settle it when inside the period, so only conversations with newer messages are looked
 * up (none for a period ending now).
 */
export function dashboardPeriodQueries(
  timeZone: string,
  period: DashboardPeriod = { from: null, to: null },
): { flow: SQL; bot: SQL; ai: SQL; crm: SQL } {
  // Sent as text: postgres.js binds a Date only where it knows the column's type.
  const iso = (d: Date | null) => d?.toISOString() ?? null;
  const t = sql`coalesce(${iso(period.to)}::timestamptz, now())`;
  const f = sql`coalesce(${iso(period.from)}::timestamptz, ${t} - interval '30 days')`;
  const b = sql`(select ${f} as f, ${t} as t offset 0) b`;
  const inPeriod = (col: SQL | AnyColumn) => sql`${col} >= ${f} and ${col} < ${t}`;
  const day = (col: SQL) => sql`(${col} at time zone ${timeZone})::date`;
  return {
    flow: sql`${messageFigures({ f, t })}, c as (
        select day, sum(i)::int as i, sum(o)::int as o from (
          select ${day(sql`s`)} as day, sum(inbound) as i, sum(outbound) as o from closed group by 1
          union all
          select ${day(sql`created_at`)}, count(*) filter (where direction = 'inbound'),
                 count(*) filter (where direction = 'outbound')
          from live group by 1
        ) x group by day
      ), d as (
        select g::date as day
        from ${b}, generate_series((b.f at time zone ${timeZone})::date::timestamp,
                                   ((b.t - interval '1 microsecond') at time zone ${timeZone})::date::timestamp,
                                   interval '1 day') g
      )
      select (extract(epoch from b.f) * 1000)::float8 as from_ms, (extract(epoch from b.t) * 1000)::float8 as to_ms,
        (select coalesce(sum(i), 0) from c)::int as messages_in,
        (select coalesce(sum(o), 0) from c)::int as messages_out,
        (select json_agg(json_build_object('day', d.day::text, 'inbound', coalesce(c.i, 0), 'outbound', coalesce(c.o, 0))
                         order by d.day)
         from d left join c on c.day = d.day) as per_day
      from ${b}`,
    // Conversations active (any message) and with an inbound message in the period. A conversation's
    // last_message_at / last_inbound_at settle both when older than the end of the period (one pass
    // over conversations); only conversations with a newer message (none for a period ending now) are
    // looked up in messages, in a branch of their own so the planner sees how few they are. Contained:
    // no handoff in the period.
    bot: sql`
      with h as (
        select e.conversation_id, e.reason from ${botEvents} e
        where ${inPeriod(sql`e.created_at`)} and e.from_owner = 'bot' and e.to_owner = 'human'
      ), handed as (
        select distinct conversation_id from h
      ), cv as (
        select c.id, c.last_message_at >= b.f as active, c.last_inbound_at >= b.f as inbound
        from ${b} cross join ${conversations} c
        where (c.last_message_at >= b.f or c.last_inbound_at >= b.f)
          and coalesce(c.last_message_at < b.t, true) and coalesce(c.last_inbound_at < b.t, true)
        union all
        select c.id,
               ${inPeriod(sql`c.last_message_at`)}
                 or (c.last_message_at >= ${t}
                     and exists (select 1 from ${messages} m where m.conversation_id = c.id
                                   and ${inPeriod(sql`m.created_at`)})),
               ${inPeriod(sql`c.last_inbound_at`)}
                 or (c.last_inbound_at >= ${t}
                     and exists (select 1 from ${messages} m where m.conversation_id = c.id and m.direction = 'inbound'
                                   and ${inPeriod(sql`m.created_at`)}))
        from ${conversations} c
        where c.last_message_at >= ${t} or c.last_inbound_at >= ${t}
      ), r as (
        select reason, count(*)::int as n from h group by reason order by n desc, reason nulls last limit 20
      )
      select cx.*,
        (select count(*) from h)::int as handoffs,
        (select coalesce(json_agg(json_build_object('reason', reason, 'count', n) order by n desc, reason nulls last),
                         '[]'::json) from r) as handoff_reasons
      from (
        select count(*) filter (where cv.active)::int as conversations_active,
               count(*) filter (where cv.inbound)::int as bot_conversations,
               count(*) filter (where cv.inbound and handed.conversation_id is null)::int as bot_contained
        from cv left join handed on handed.conversation_id = cv.id
      ) cx`,
    ai: sql`${messageFigures({ f, t })}, l as (
        select (ai->>'latencyMs')::float8 as v from live where author = 'bot' and ai is not null
        union all
        select unnest(ai_latencies) from closed
      )
      select
        ((select coalesce(sum(ai_replies), 0) from closed)
          + (select count(*) from live where author = 'bot' and ai is not null))::int as ai_replies,
        p.v[1] as ai_latency_median, p.v[2] as ai_latency_p95,
        ((select coalesce(sum(ai_prompt_tokens), 0) from closed)
          + (select coalesce(sum((ai->>'promptTokens')::float8), 0) from live where author = 'bot' and ai is not null))::float8
          as ai_prompt_tokens,
        ((select coalesce(sum(ai_completion_tokens), 0) from closed)
          + (select coalesce(sum((ai->>'completionTokens')::float8), 0) from live where author = 'bot' and ai is not null))::float8
          as ai_completion_tokens
      from (select percentile_cont(array[0.5, 0.95]) within group (order by v) as v from l) p`,
    crm: sql`
      select
        (select count(*) from ${contacts} where ${contacts.deletedAt} is null
           and ${inPeriod(contacts.createdAt)})::int as contacts_new_period,
        cr.*,
        (select json_agg(json_build_object('status', s, 'count', n))
         from (select ${contacts.leadStatus} as s, count(*)::int as n from ${contacts}
               where ${contacts.deletedAt} is null group by 1) x) as lead_funnel
      from ${b}
      cross join lateral (
        select count(*) filter (where r.status in ('sent', 'delivered', 'read'))::int as campaign_sent,
               count(*) filter (where r.status in ('delivered', 'read'))::int as campaign_delivered,
               count(*) filter (where r.status = 'read')::int as campaign_read,
               count(*) filter (where r.status = 'failed')::int as campaign_failed
        from ${campaignRecipients} r where ${inPeriod(sql`r.finished_at`)}
      ) cr`,
  };
}

export async function dashboardPeriod(
  db: DbOrTx,
  timeZone: string,
  period: DashboardPeriod,
): Promise<DashboardPeriodRow> {
  const q = dashboardPeriodQueries(timeZone, period);
  const rows = await Promise.all(
    [q.flow, q.bot, q.ai, q.crm].map((part) => db.execute<Record<string, unknown>>(part)),
  );
  return Object.assign({}, ...rows.map((r) => r[0])) as DashboardPeriodRow;
}
