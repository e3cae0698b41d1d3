import { z } from 'zod';
import { ZId } from './common';

export const LEAD_BUDGET_SIGNALS = ['unknown', 'none', 'low', 'medium', 'high'] as const;
export const LEAD_TIMELINES = ['unknown', 'immediate', 'this_month', 'this_quarter', 'later'] as const;
export const LEAD_DECISION_ROLES = ['unknown', 'decision_maker', 'influencer', 'user', 'other'] as const;

/**
 * The model's assessment of a lead from one conversation: the shape asked of the model (as a strict
 * JSON schema) and checked again on its answer. No length limits here (structured outputs may not honour
 * them); the server shortens long texts when it stores them.
 */
export const ZLeadAssessment = z.object({
  /** What the customer is trying to do, in a few words. */
  intent: z.string(),
  /** The need or problem behind it. */
  need: z.string(),
  budgetSignal: z.enum(LEAD_BUDGET_SIGNALS),
  timeline: z.enum(LEAD_TIMELINES),
  decisionRole: z.enum(LEAD_DECISION_ROLES),
  /** 0 (no prospect) to 100 (ready to buy). */
  score: z.number().int().min(0).max(100),
  /** Why this score, one short sentence each. */
  reasons: z.array(z.string()),
  /** One paragraph for the sales team. */
  summary: z.string(),
});
export type TLeadAssessment = z.infer<typeof ZLeadAssessment>;

/** The latest stored assessment of a lead (see docs/leads.md). */
export const ZLeadQualification = ZLeadAssessment.extend({
  id: ZId,
  conversationId: ZId,
  /** The model that answered. */
  model: z.string(),
  assessedAt: z.date(),
  /** The sales task the assessment created (score at or above the threshold), or null. */
  taskId: ZId.nullable(),
});
export type TLeadQualification = z.infer<typeof ZLeadQualification>;
