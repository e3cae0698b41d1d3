import { z } from 'zod';
import { ZId, ZPageInput, ZPeriod, ZTag, ZTextQuery, zPage } from './common';
import { ZContactSort, ZLeadStatus, ZScoreBreakdownItem } from './crm';
import { ZLeadQualification } from './qualification';

export const ZLeadListInput = ZPageInput.extend({
  status: ZLeadStatus.optional(),
  tag: ZTag.optional(),
  minScore: z.number().int().min(0).max(1000).optional(),
  maxScore: z.number().int().min(0).max(1000).optional(),
  source: z.string().trim().min(1).max(50).optional(),
  optedOut: z.boolean().optional(),
  lastInboundAfter: z.date().optional(),
  lastInboundBefore: z.date().optional(),
  q: ZTextQuery.optional(),
  sort: ZContactSort.default('score'),
}).default({ limit: 25, sort: 'score' });
export type TLeadListInput = z.infer<typeof ZLeadListInput>;

export const ZLead = z.object({
  id: ZId,
  phone: z.string(),
  name: z.string().nullable(),
  email: z.string().nullable(),
  company: z.string().nullable(),
  leadStatus: ZLeadStatus,
  leadScore: z.number(),
  source: z.string(),
  tags: z.array(z.string()),
  lastInboundAt: z.date().nullable(),
  createdAt: z.date(),
});
export type TLead = z.infer<typeof ZLead>;
export const ZLeadPage = zPage(ZLead);

export const ZLeadGetInput = z.object({ contactId: ZId });
/** One lead with its stored score breakdown and the model's latest assessment. */
export const ZLeadDetail = ZLead.extend({
  scoreBreakdown: z.array(ZScoreBreakdownItem),
  scoredAt: z.date().nullable(),
  qualification: ZLeadQualification.nullable(),
});
export type TLeadDetail = z.infer<typeof ZLeadDetail>;

export const ZLeadSetStatusInput = z.object({
  contactId: ZId,
  status: ZLeadStatus,
  reason: z.string().trim().min(1).max(500).optional(),
});
export type TLeadSetStatusInput = z.infer<typeof ZLeadSetStatusInput>;
export const ZLeadSetStatusResult = z.object({ changed: z.boolean(), lead: ZLead });

export const ZLeadScoreInput = z.object({ contactId: ZId });
export const ZLeadScore = z.object({
  contactId: ZId,
  /** The score the rules give now (0–100). */
  score: z.number(),
  /** Each rule's points and why. */
  breakdown: z.array(ZScoreBreakdownItem),
  /** The score stored on the contact (from the last rescore). */
  storedScore: z.number(),
  scoredAt: z.date().nullable(),
});
export type TLeadScore = z.infer<typeof ZLeadScore>;

/** Which contacts a rescore run covers (all filters together; none: every contact). */
export const ZLeadRescoreFilter = z.object({
  /** Only these contacts (default: every contact, or those matching the filters). */
  contactIds: z.array(ZId).min(1).max(1000).optional(),
  status: ZLeadStatus.optional(),
  source: z.string().trim().min(1).max(50).optional(),
  tag: ZTag.optional(),
});
export type TLeadRescoreFilter = z.infer<typeof ZLeadRescoreFilter>;
export const ZLeadRescoreInput = ZLeadRescoreFilter.default({});
export type TLeadRescoreInput = z.infer<typeof ZLeadRescoreInput>;

/** queued → running → completed or failed; one run at a time. */
export const ZLeadRescoreRunStatus = z.enum(['queued', 'running', 'completed', 'failed']);
export type TLeadRescoreRunStatus = z.infer<typeof ZLeadRescoreRunStatus>;

/** A background rescore run and its progress (updated after each batch of contacts). */
export const ZLeadRescoreRun = z.object({
  runId: ZId,
  status: ZLeadRescoreRunStatus,
  /** The filter the run was started with. */
  filter: ZLeadRescoreFilter,
  /** Contacts scored so far. */
  scored: z.number(),
  /** Of those, contacts whose stored score changed. */
  changed: z.number(),
  /** Contacts matching the filter when the run started (null until it starts). */
  total: z.number().nullable(),
  queuedAt: z.date(),
  startedAt: z.date().nullable(),
  finishedAt: z.date().nullable(),
  /** Why the run failed; while running, the error of a failed attempt that is being retried. */
  error: z.string().nullable(),
});
export type TLeadRescoreRun = z.infer<typeof ZLeadRescoreRun>;
export const ZLeadRescoreStatusResult = ZLeadRescoreRun.nullable();

/** Period of the funnel and analytics: contacts created in it (default: all time). */
export const ZLeadFunnelInput = ZPeriod.default({});
export const ZLeadFunnel = z.object({
  from: z.date().nullable(),
  to: z.date().nullable(),
  total: z.number(),
  /** In order new → contacted → qualified → proposal → customer. */
  stages: z.array(
    z.object({
      status: ZLeadStatus,
      /** Contacts whose status is this one now. */
      current: z.number(),
      /** Contacts that reached this status or a later one (now or at some time, by their history). */
      reached: z.number(),
      /** reached ÷ reached of the previous status (0–1, 4 decimals); null for the first and when 0. */
      conversion: z.number().nullable(),
    }),
  ),
  lost: z.number(),
});
export type TLeadFunnel = z.infer<typeof ZLeadFunnel>;

export const ZLeadAnalyticsInput = z
  .object({
    from: z.date().optional(),
    to: z.date().optional(),
    groupBy: z.enum(['day', 'week', 'month']).default('week'),
  })
  .refine((p) => !p.from || !p.to || p.from < p.to, { error: 'from must be before to', path: ['to'] })
  .default({ groupBy: 'week' });
export type TLeadAnalyticsInput = z.infer<typeof ZLeadAnalyticsInput>;

const ZLeadCounts = z.object({
  contacts: z.number(),
  /** Contacts now qualified, in proposal, or customers. */
  qualified: z.number(),
  customers: z.number(),
  lost: z.number(),
  averageScore: z.number(),
});

export const ZLeadAnalytics = z.object({
  bySource: z.array(ZLeadCounts.extend({ source: z.string() })),
  /** Periods (UTC) by the contacts' creation time, oldest first; periods without contacts are left out. */
  byPeriod: z.array(ZLeadCounts.extend({ periodStart: z.date() })),
});
export type TLeadAnalytics = z.infer<typeof ZLeadAnalytics>;
