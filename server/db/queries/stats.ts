import { sql } from 'drizzle-orm';
import { campaigns, contacts, conversations, deals, messages, tasks } from '../../../drizzle';
import type { DbOrTx } from '../types';

export interface DashboardRow extends Record<string, unknown> {
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

/**
 * The dashboard's figures in one statement (one round trip). Every part reads an index or a small
 * table: message counts use messages(created_at, direction), handoffs the partial index of open ones.
 */
export function dashboardQuery(timeZone: string) {
  return sql`
    with b as (
      select now() as now,
             (date_trunc('day', now() at time zone ${timeZone}) at time zone ${timeZone}) as today
    )
    select b.now::text as now, ct.*, cv.*, ho.*, ms.*, tk.*, dl.*, cp.*
    from b
    cross join lateral (
      select count(*)::int as contacts_total,
             count(*) filter (where ${contacts.createdAt} >= b.today)::int as contacts_new_today,
             count(*) filter (where ${contacts.createdAt} >= b.today - interval '6 days')::int as contacts_new_7d
      from ${contacts} where ${contacts.deletedAt} is null
    ) ct
    cross join lateral (
      select count(*)::int as conversations_total,
             count(*) filter (where ${conversations.owner} = 'bot')::int as conversations_bot,
             count(*) filter (where ${conversations.owner} = 'human')::int as conversations_human,
             count(*) filter (where ${conversations.unreadCount} > 0)::int as conversations_unread,
             coalesce(sum(${conversations.unreadCount}), 0)::int as unread_messages
      from ${conversations} join ${contacts} on ${contacts.id} = ${conversations.contactId}
      where ${contacts.deletedAt} is null
    ) cv
    cross join lateral (
      select count(*)::int as open_handoffs from ${tasks}
      where ${tasks.type} = 'handoff' and ${tasks.status} = 'open'
    ) ho
    cross join lateral (
      select count(*) filter (where ${messages.createdAt} >= b.today and ${messages.direction} = 'inbound')::int as messages_today_in,
             count(*) filter (where ${messages.createdAt} >= b.today and ${messages.direction} = 'outbound')::int as messages_today_out,
             count(*) filter (where ${messages.direction} = 'inbound')::int as messages_7d_in,
             count(*) filter (where ${messages.direction} = 'outbound')::int as messages_7d_out
      from ${messages} where ${messages.createdAt} >= b.today - interval '6 days'
    ) ms
    cross join lateral (
      select count(*)::int as tasks_open,
             count(*) filter (where ${tasks.dueAt} < b.now)::int as tasks_overdue
      from ${tasks} where ${tasks.status} = 'open'
    ) tk
    cross join lateral (
      select coalesce(sum(n), 0)::int as deals_open,
             coalesce(json_agg(json_build_object('currency', currency, 'value', total::text) order by currency)
               filter (where currency is not null), '[]'::json) as pipeline_value
      from (
        select ${deals.currency} as currency, count(*) as n, sum(${deals.value}) as total
        from ${deals}
        where ${deals.deletedAt} is null and ${deals.stage} not in ('won', 'lost')
        group by ${deals.currency}
      ) d
    ) dl
    cross join lateral (
      select count(*)::int as campaigns_running from ${campaigns} where ${campaigns.status} = 'running'
    ) cp`;
}

export async function dashboard(db: DbOrTx, timeZone: string): Promise<DashboardRow> {
  const rows = await db.execute<DashboardRow>(dashboardQuery(timeZone));
  return rows[0]!;
}
