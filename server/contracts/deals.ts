import { z } from 'zod';
import { ZId, ZMoney, ZPageInput, zPage } from './common';

export const DEAL_STAGE_VALUES = ['lead', 'qualified', 'proposal', 'negotiation', 'won', 'lost'] as const;
export const ZDealStage = z.enum(DEAL_STAGE_VALUES);
export type TDealStage = z.infer<typeof ZDealStage>;

export const ZCurrency = z
  .string()
  .trim()
  .regex(/^[A-Za-z]{3}$/, { error: 'must be a three-letter currency code such as USD' })
  .transform((c) => c.toUpperCase());

export const ZDeal = z.object({
  id: ZId,
  contactId: ZId,
  title: z.string(),
  stage: ZDealStage,
  /** Exact decimal string. */
  value: z.string(),
  currency: z.string(),
  probability: z.number().nullable(),
  expectedCloseAt: z.date().nullable(),
  closedAt: z.date().nullable(),
  createdAt: z.date(),
  updatedAt: z.date(),
});
export type TDeal = z.infer<typeof ZDeal>;

export const ZDealListInput = ZPageInput.extend({
  stage: ZDealStage.optional(),
  contactId: ZId.optional(),
  minValue: ZMoney.optional(),
  maxValue: ZMoney.optional(),
  currency: ZCurrency.optional(),
}).default({ limit: 25 });
export type TDealListInput = z.infer<typeof ZDealListInput>;
export const ZDealPage = zPage(ZDeal);

export const ZDealCreateInput = z.object({
  contactId: ZId,
  title: z.string().trim().min(1, { error: 'title is required' }).max(200),
  stage: ZDealStage.default('lead'),
  value: ZMoney.default('0'),
  currency: ZCurrency.default('USD'),
  probability: z.number().int().min(0).max(100).nullish(),
  expectedCloseAt: z.date().nullish(),
});
export type TDealCreateInput = z.infer<typeof ZDealCreateInput>;

/** Changes the listed fields only; the stage moves through moveStage, which records it. */
export const ZDealUpdateInput = z
  .object({
    id: ZId,
    title: z.string().trim().min(1).max(200).optional(),
    value: ZMoney.optional(),
    currency: ZCurrency.optional(),
    probability: z.number().int().min(0).max(100).nullish(),
    expectedCloseAt: z.date().nullish(),
  })
  .strict();
export type TDealUpdateInput = z.infer<typeof ZDealUpdateInput>;

export const ZDealMoveStageInput = z.object({
  id: ZId,
  stage: ZDealStage,
  note: z.string().trim().max(1000).optional(),
});
export type TDealMoveStageInput = z.infer<typeof ZDealMoveStageInput>;

export const ZDealDeleteInput = z.object({ id: ZId });

export const ZPipelineSummary = z.object({
  stages: z.array(
    z.object({
      stage: ZDealStage,
      count: z.number(),
      /** Sum of deal values per currency, as exact decimal strings. */
      values: z.array(z.object({ currency: z.string(), value: z.string() })),
    }),
  ),
  /** Open deals (not won or lost): value per currency. */
  open: z.object({
    count: z.number(),
    values: z.array(z.object({ currency: z.string(), value: z.string() })),
  }),
});
export type TPipelineSummary = z.infer<typeof ZPipelineSummary>;
