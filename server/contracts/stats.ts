import { z } from 'zod';
import { ZLeadStatus } from './crm';
import { ZKnowledgeSystemStatus } from './knowledge';

export const ZIntegrationStatus = z.object({
  configured: z.boolean(),
  /** What is missing or wrong, in words an operator can act on. */
  detail: z.string(),
});

export const ZSystemStatus = z.object({
  status: z.enum(['ok', 'degraded']),
  version: z.string(),
  uptimeSeconds: z.number(),
  database: z.object({ mode: z.enum(['embedded', 'postgres']), reachable: z.boolean() }),
  queue: z.object({
    reachable: z.boolean(),
    /** Jobs waiting (created or retry state); null when the queue did not answer. */
    depth: z.number().nullable(),
    /** Age of the oldest job that may run now and waits; null when none waits. */
    oldestWaitingSeconds: z.number().nullable(),
  }),
  /** A live check of the OpenAI API (listing models), cached for a minute. */
  openai: z.object({
    configured: z.boolean(),
    /** null when not configured (nothing to check). */
    reachable: z.boolean().nullable(),
    detail: z.string(),
    checkedAt: z.date().nullable(),
  }),
  /** The WhatsApp gateway: configured, and the latest session status its webhook reported. */
  gateway: z.object({
    configured: z.boolean(),
    sessionStatus: z.string().nullable(),
    sessionStatusAt: z.date().nullable(),
    /**
     * The gateway's live view of the session, asked at most every 30 s (null when the gateway cannot
     * report it or is not configured). `unknown` with a `reason` when it did not answer.
     */
    live: z
      .object({
        state: z.enum(['connected', 'disconnected', 'unknown']),
        detail: z.record(z.string(), z.union([z.string(), z.number(), z.boolean(), z.null()])),
        reason: z.string().nullable(),
        checkedAt: z.date(),
      })
      .nullable(),
  }),
  /** What is configured (the same as /health shows). */
  integrations: z.object({
    openai: ZIntegrationStatus,
    wasender: ZIntegrationStatus,
    webhook: ZIntegrationStatus,
  }),
  persona: z.object({ name: z.string(), model: z.string() }),
  /** Lead qualification by the model: whether conversations are assessed, and why not. */
  leadQualification: z.object({ enabled: z.boolean(), detail: z.string() }),
  /**
   * Whether replies leave: conversation messages queued far longer than a send takes (their job is
   * lost), or the gateway throttle blocked far ahead (a long 429). `stalled` makes the status
   * `degraded` and `/ready` answer 503; null fields when the database did not answer.
   */
  sendQueue: z.object({
    stalled: z.boolean(),
    reason: z.string().nullable(),
    queuedTooLong: z.number().nullable(),
    oldestQueuedAt: z.date().nullable(),
    throttleBlockedUntil: z.date().nullable(),
  }),
  /**
   * Gateway items that could not be handled and wait for an admin (`system.deadLetters`); null when the
   * database did not answer. They do not make the status `degraded`: the server runs; someone should look.
   */
  deadLetters: z.object({ open: z.number().nullable() }),
  /**
   * Outbound webhook subscriptions the server disabled after sustained delivery failure (re-enable
   * with `webhooks.update`), and active ones currently failing; null when the database did not answer.
   * Like dead letters, they do not make the status `degraded`.
   */
  outboundWebhooks: z.object({
    disabled: z.number().nullable(),
    failing: z.number().nullable(),
    notice: z.string().nullable(),
  }),
  /** The knowledge base: which retrieval answers (hybrid or lexical) and its documents. */
  knowledge: ZKnowledgeSystemStatus,
});
export type TSystemStatus = z.infer<typeof ZSystemStatus>;

/** Longest period the dashboard counts over. */
export const DASHBOARD_MAX_PERIOD_DAYS = 400;

export const ZDashboardInput = z
  .object({
    /** IANA time zone that "today" and the days of the period are counted in (default UTC). */
    timeZone: z
      .string()
      .max(64)
      .refine(
        (tz) => {
          try {
            new Intl.DateTimeFormat('en', { timeZone: tz });
            return true;
          } catch {
            return false;
          }
        },
        { error: 'must be an IANA time zone such as Europe/Berlin' },
      )
      .default('UTC'),
    /** Start of the period (default: 30 days before `to`). */
    from: z.date().optional(),
    /** End of the period, exclusive (default: now). */
    to: z.date().optional(),
  })
  .refine((p) => !p.from || !p.to || p.from < p.to, { error: 'from must be before to', path: ['to'] })
  .refine(
    (p) =>
      !p.from || (p.to?.getTime() ?? Date.now()) - p.from.getTime() <= DASHBOARD_MAX_PERIOD_DAYS * 86_400_000,
    { error: `the period may span at most ${DASHBOARD_MAX_PERIOD_DAYS} days`, path: ['from'] },
  )
  .default({ timeZone: 'UTC' });
export type TDashboardInput = z.infer<typeof ZDashboardInput>;

const ZInOut = z.object({ inbound: z.number(), outbound: z.number() });
const ZMoneyByCurrency = z.array(z.object({ currency: z.string(), value: z.string() }));

export const ZDashboard = z.object({
  generatedAt: z.date(),
  contacts: z.object({ total: z.number(), newToday: z.number(), newLast7Days: z.number() }),
  conversations: z.object({
    total: z.number(),
    bot: z.number(),
    human: z.number(),
    /** Conversations with unread messages, and the unread messages in them. */
    unread: z.number(),
    unreadMessages: z.number(),
    openHandoffs: z.number(),
    /** Conversations whose customer waits for a person's reply, and those waiting longer than the SLA. */
    waitingForHuman: z.number(),
    waitingOverSla: z.number(),
    /** HUMAN_SLA_MINUTES, the SLA the count above uses. */
    slaMinutes: z.number(),
  }),
  /** Today counts from midnight in the requested time zone; the last 7 days include today. */
  messages: z.object({ today: ZInOut, last7Days: ZInOut }),
  tasks: z.object({ open: z.number(), overdue: z.number() }),
  /** Open deals (not won or lost) and their value per currency, as exact decimal strings. */
  deals: z.object({ open: z.number(), pipelineValue: ZMoneyByCurrency }),
  campaigns: z.object({ running: z.number() }),
  /** Figures over the requested period [from, to). */
  period: z.object({
    from: z.date(),
    to: z.date(),
    /** Contacts created in the period (not deleted). */
    newContacts: z.number(),
    /** Conversations with at least one message in the period. */
    activeConversations: z.number(),
    messages: ZInOut.extend({
      /** Every day of the period in the requested time zone (YYYY-MM-DD), zeros included. */
      perDay: z.array(ZInOut.extend({ day: z.string() })),
    }),
    bot: z.object({
      /** Conversations with inbound messages in the period. */
      conversations: z.number(),
      /** Of those, the ones the bot did not hand to a human in the period. */
      contained: z.number(),
      /** contained ÷ conversations (null when there were none). */
      containment: z.number().nullable(),
      /** Conversations handed from the bot to a human in the period ÷ conversations (null when none). */
      handoffRate: z.number().nullable(),
      /** Changes to a human owner in the period, by reason (most frequent first, at most 20). */
      handoffs: z.number(),
      handoffReasons: z.array(z.object({ reason: z.string().nullable(), count: z.number() })),
    }),
    /**
     * How long customers waited for a person in the period: from a handoff (or the first message to a
     * person) to the first reply of a person, in milliseconds (null when nobody was answered).
     */
    humanWaitMs: z.object({
      answered: z.number(),
      median: z.number().nullable(),
      p90: z.number().nullable(),
    }),
    /** Bot replies with AI usage in the period. */
    ai: z.object({
      replies: z.number(),
      latencyMs: z.object({ median: z.number().nullable(), p95: z.number().nullable() }),
      tokens: z.object({ prompt: z.number(), completion: z.number(), total: z.number() }),
    }),
    /** Campaign sends that ended in the period, and the rates among them. */
    campaigns: z.object({
      sent: z.number(),
      delivered: z.number(),
      read: z.number(),
      failed: z.number(),
      /** Of the messages that went out (null when none did). */
      deliveryRate: z.number().nullable(),
      readRate: z.number().nullable(),
      /** Failed, of every send that ended (null when none ended). */
      failureRate: z.number().nullable(),
    }),
  }),
  /** Live contacts per lead status (every status, zeros included), now. */
  leadFunnel: z.array(z.object({ status: ZLeadStatus, count: z.number() })),
});
export type TDashboard = z.infer<typeof ZDashboard>;
