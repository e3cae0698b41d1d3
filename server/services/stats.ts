import type { TAgentStats, TAgentStatsInput, TDashboard, TDashboardInput, TLeadStatus } from '../contracts';
import { LEAD_STATUS_VALUES } from '../contracts';
import * as iq from '../db/queries/inbox-stats';
import * as q from '../db/queries/stats';
import type { Db } from '../db/types';

export interface StatsService {
  /** The dashboard's headline figures, read in one statement. */
  dashboard(input: TDashboardInput): Promise<TDashboard>;
  /** Per staff member over a period (admins): handled, response and resolution times, load. */
  agents(input: TAgentStatsInput): Promise<TAgentStats>;
}

export function createStatsService(deps: { db: Db; humanSlaMinutes?: number }): StatsService {
  const slaMinutes = deps.humanSlaMinutes ?? 15;
  return {
    async dashboard(input) {
      const [r, p, waiting] = await Promise.all([
        q.dashboard(deps.db, input.timeZone),
        q.dashboardPeriod(deps.db, input.timeZone, { from: input.from ?? null, to: input.to ?? null }),
        iq.waitingNow(deps.db, slaMinutes),
      ]);
      const wait = await iq.humanWait(deps.db, new Date(p.from_ms), new Date(p.to_ms));
      const pipeline = typeof r.pipeline_value === 'string' ? JSON.parse(r.pipeline_value) : r.pipeline_value;
      const funnel = new Map(json(p.lead_funnel).map((f) => [f.status, f.count]));
      const handed = p.bot_conversations - p.bot_contained;
      const wentOut = p.campaign_sent;
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
          waitingForHuman: waiting.waiting,
          waitingOverSla: waiting.over,
          slaMinutes,
        },
        messages: {
          today: { inbound: r.messages_today_in, outbound: r.messages_today_out },
          last7Days: { inbound: r.messages_7d_in, outbound: r.messages_7d_out },
        },
        tasks: { open: r.tasks_open, overdue: r.tasks_overdue },
        deals: { open: r.deals_open, pipelineValue: pipeline },
        campaigns: { running: r.campaigns_running },
        period: {
          from: new Date(p.from_ms),
          to: new Date(p.to_ms),
          newContacts: p.contacts_new_period,
          activeConversations: p.conversations_active,
          messages: { inbound: p.messages_in, outbound: p.messages_out, perDay: json(p.per_day) },
          bot: {
            conversations: p.bot_conversations,
            contained: p.bot_contained,
            containment: ratio(p.bot_contained, p.bot_conversations),
            handoffRate: ratio(handed, p.bot_conversations),
            handoffs: p.handoffs,
            handoffReasons: json(p.handoff_reasons),
          },
          humanWaitMs: { answered: wait.n, median: wait.median, p90: wait.p90 },
          ai: {
            replies: p.ai_replies,
            latencyMs: { median: round(p.ai_latency_median), p95: round(p.ai_latency_p95) },
            tokens: {
              prompt: p.ai_prompt_tokens,
              completion: p.ai_completion_tokens,
              total: p.ai_prompt_tokens + p.ai_completion_tokens,
            },
          },
          campaigns: {
            sent: wentOut,
            delivered: p.campaign_delivered,
            read: p.campaign_read,
            failed: p.campaign_failed,
            deliveryRate: ratio(p.campaign_delivered, wentOut),
            readRate: ratio(p.campaign_read, wentOut),
            failureRate: ratio(p.campaign_failed, wentOut + p.campaign_failed),
          },
        },
        leadFunnel: LEAD_STATUS_VALUES.map((status: TLeadStatus) => ({
          status,
          count: funnel.get(status) ?? 0,
        })),
      };
    },

    async agents(input) {
      const to = input.to ?? new Date();
      const from = input.from ?? new Date(to.getTime() - 7 * 86_400_000);
      const rows = await iq.agentStats(deps.db, from, to);
      return {
        from,
        to,
        agents: rows.map((r) => ({
          staffId: r.staff_id,
          name: r.name,
          role: r.role,
          active: r.active,
          available: r.available,
          conversationsHandled: Number(r.handled),
          messagesSent: Number(r.sent),
          firstResponseMs: { median: iq.durationOf(r.frt_median), p90: iq.durationOf(r.frt_p90) },
          resolutionMs: { median: iq.durationOf(r.res_median), p90: iq.durationOf(r.res_p90) },
          load: { open: Number(r.load_open), pending: Number(r.load_pending) },
        })),
      };
    },
  };
}

/** A json column as the driver returned it (parsed, or as text), null read as an empty list. */
function json<T>(v: T[] | string | null): T[] {
  if (v === null) return [];
  return typeof v === 'string' ? (JSON.parse(v) as T[]) : v;
}

/** part ÷ whole to four decimals; null when the whole is zero. */
function ratio(part: number, whole: number): number | null {
  return whole > 0 ? Math.round((part / whole) * 10_000) / 10_000 : null;
}

function round(v: number | null): number | null {
  return v === null ? null : Math.round(v);
}
