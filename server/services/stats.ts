import type { TDashboard, TDashboardInput } from '../contracts';
import * as q from '../db/queries/stats';
import type { Db } from '../db/types';

export interface StatsService {
  /** The dashboard's headline figures, read in one statement. */
  dashboard(input: TDashboardInput): Promise<TDashboard>;
}

export function createStatsService(deps: { db: Db }): StatsService {
  return {
    async dashboard(input) {
      const r = await q.dashboard(deps.db, input.timeZone);
      const pipeline = typeof r.pipeline_value === 'string' ? JSON.parse(r.pipeline_value) : r.pipeline_value;
      return {
        generatedAt: new Date(r.now),
        contacts: {
          total: r.contacts_total,
          newToday: r.contacts_new_today,
          newLast7Days: r.contacts_new_7d,
        },
        conversations: {
          total: r.conversations_total,
          bot: r.conversations_bot,
          human: r.conversations_human,
          unread: r.conversations_unread,
          unreadMessages: r.unread_messages,
          openHandoffs: r.open_handoffs,
        },
        messages: {
          today: { inbound: r.messages_today_in, outbound: r.messages_today_out },
          last7Days: { inbound: r.messages_7d_in, outbound: r.messages_7d_out },
        },
        tasks: { open: r.tasks_open, overdue: r.tasks_overdue },
        deals: { open: r.deals_open, pipelineValue: pipeline },
        campaigns: { running: r.campaigns_running },
      };
    },
  };
}
