import { type AnyColumn, type SQL, sql } from 'drizzle-orm';
import {
  botEvents,
  campaignRecipients,
  campaigns,
  contacts,
  conversations,
  deals,
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

/**
 * The dashboard's figures as three independent statements, sent together (one round trip, and on
 * Postgres they run side by side on separate connections). Every part reads an index or a small
 * table: live contacts and their creation times from a partial index, conversations of deleted
 * contacts through a partial index of those, message counts from messages(created_at, direction),
 * open handoffs and the open pipeline from partial indexes.
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
    // "offset 0" keeps the boundary a one-row subquery computed once, not an expression per message.
    traffic: sql`
      select count(*) filter (where ${messages.createdAt} >= b.today and ${messages.direction} = 'inbound')::int as messages_today_in,
             count(*) filter (where ${messages.createdAt} >= b.today and ${messages.direction} = 'outbound')::int as messages_today_out,
             count(*) filter (where ${messages.direction} = 'inbound')::int as messages_7d_in,
             count(*) filter (where ${messages.direction} = 'outbound')::int as messages_7d_out
      from (select ${today(timeZone)} as today offset 0) b
      join ${messages} on ${messages.createdAt} >= b.today - interval '6 days'`,
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
 * The figures over a period [from, to), as four independent statements sent together. The period's
 * bounds are a one-row subquery ("offset 0": computed once), so every range below is an index range:
 * messages by messages(created_at, direction), conversations' messages by
 * messages(conversation_id, created_at). A conversation's last_message_at / last_inbound_at (its
 * newest message times) rule it out when older than the period and settle it when inside the
 * period, so only conversations with newer messages are looked up (none for a period ending now).
 */
export function dashboardPeriodQueries(
  timeZone: string,
  period: DashboardPeriod = { from: null, to: null },
): { flow: SQL; bot: SQL; ai: SQL; crm: SQL } {
  // Sent as text: postgres.js binds a Date only where it knows the column's type.
  const iso = (d: Date | null) => d?.toISOString() ?? null;
  const to = sql`coalesce(${iso(period.to)}::timestamptz, now())`;
  const b = sql`(select coalesce(${iso(period.from)}::timestamptz, ${to} - interval '30 days') as f, ${to} as t offset 0) b`;
  const inPeriod = (col: SQL | AnyColumn) => sql`${col} >= b.f and ${col} < b.t`;
  return {
    flow: sql`
      with c as (
        select (${messages.createdAt} at time zone ${timeZone})::date as day,
               count(*) filter (where ${messages.direction} = 'inbound')::int as i,
               count(*) filter (where ${messages.direction} = 'outbound')::int as o
        from ${b} join ${messages} on ${inPeriod(messages.createdAt)}
        group by 1
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
    bot: sql`
      with h as (
        select e.conversation_id, e.reason
        from ${b} join ${botEvents} e on ${inPeriod(sql`e.created_at`)}
        where e.from_owner = 'bot' and e.to_owner = 'human'
      ), inb as (
        select c.id from ${b}, ${conversations} c
        where c.last_inbound_at >= b.f
          and (c.last_inbound_at < b.t
               or exists (select 1 from ${messages} m where m.conversation_id = c.id and m.direction = 'inbound'
                            and ${inPeriod(sql`m.created_at`)}))
      ), r as (
        select reason, count(*)::int as n from h group by reason order by n desc, reason nulls last limit 20
      )
      select
        (select count(*) from ${b}, ${conversations} c
         where c.last_message_at >= b.f
           and (c.last_message_at < b.t
                or exists (select 1 from ${messages} m where m.conversation_id = c.id
                             and ${inPeriod(sql`m.created_at`)})))::int as conversations_active,
        (select count(*) from inb)::int as bot_conversations,
        (select count(*) from inb where not exists (select 1 from h where h.conversation_id = inb.id))::int as bot_contained,
        (select count(*) from h)::int as handoffs,
        (select coalesce(json_agg(json_build_object('reason', reason, 'count', n) order by n desc, reason nulls last),
                         '[]'::json) from r) as handoff_reasons`,
    ai: sql`
      select count(*)::int as ai_replies,
        percentile_cont(0.5) within group (order by (${messages.ai}->>'latencyMs')::float8) as ai_latency_median,
        percentile_cont(0.95) within group (order by (${messages.ai}->>'latencyMs')::float8) as ai_latency_p95,
        coalesce(sum((${messages.ai}->>'promptTokens')::float8), 0)::float8 as ai_prompt_tokens,
        coalesce(sum((${messages.ai}->>'completionTokens')::float8), 0)::float8 as ai_completion_tokens
      from ${b} join ${messages} on ${inPeriod(messages.createdAt)}
      where ${messages.author} = 'bot' and ${messages.ai} is not null`,
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
