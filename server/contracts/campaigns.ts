import { z } from 'zod';
import { ZId } from './common';

export const ZCampaignStatus = z.enum(['draft', 'scheduled', 'running', 'paused', 'completed', 'cancelled']);

export const ZCampaignSummary = z.object({
  id: ZId,
  name: z.string(),
  status: ZCampaignStatus,
  ratePerMinute: z.number(),
  scheduledAt: z.date().nullable(),
  startedAt: z.date().nullable(),
  completedAt: z.date().nullable(),
  createdAt: z.date(),
});
export type TCampaignSummary = z.infer<typeof ZCampaignSummary>;

export const ZCampaignListInput = z
  .object({ status: ZCampaignStatus.optional(), limit: z.number().int().min(1).max(100).default(25) })
  .default({ limit: 25 });
