import { z } from 'zod';
import { ZId } from './common';
import { ZLeadStatus } from './crm';

export const ZLeadListInput = z
  .object({
    status: ZLeadStatus.optional(),
    limit: z.number().int().min(1).max(100).default(25),
  })
  .default({ limit: 25 });

export const ZLead = z.object({
  id: ZId,
  phone: z.string(),
  name: z.string().nullable(),
  leadStatus: ZLeadStatus,
  leadScore: z.number(),
  source: z.string(),
  tags: z.array(z.string()),
  lastInboundAt: z.date().nullable(),
});
export type TLead = z.infer<typeof ZLead>;
