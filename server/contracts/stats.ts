import { z } from 'zod';

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
  queue: z.object({ reachable: z.boolean() }),
  integrations: z.object({
    openai: ZIntegrationStatus,
    wasender: ZIntegrationStatus,
    webhook: ZIntegrationStatus,
  }),
  persona: z.object({ name: z.string(), model: z.string() }),
});
export type TSystemStatus = z.infer<typeof ZSystemStatus>;

export const ZDashboardInput = z
  .object({
    /** IANA time zone that "today" is counted in (default UTC). */
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
  })
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
  }),
  /** Today counts from midnight in the requested time zone; the last 7 days include today. */
  messages: z.object({ today: ZInOut, last7Days: ZInOut }),
  tasks: z.object({ open: z.number(), overdue: z.number() }),
  /** Open deals (not won or lost) and their value per currency, as exact decimal strings. */
  deals: z.object({ open: z.number(), pipelineValue: ZMoneyByCurrency }),
  campaigns: z.object({ running: z.number() }),
});
export type TDashboard = z.infer<typeof ZDashboard>;
