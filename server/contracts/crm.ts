import { z } from 'zod';
import { ZId } from './common';

export const LEAD_STATUS_VALUES = ['new', 'contacted', 'qualified', 'proposal', 'customer', 'lost'] as const;
export const ZLeadStatus = z.enum(LEAD_STATUS_VALUES);
export type TLeadStatus = z.infer<typeof ZLeadStatus>;

const optionalText = (max: number) => z.string().trim().max(max).nullish();

export const ZContactCreateInput = z.object({
  phone: z.string().trim().min(5, { error: 'phone is required' }).max(32),
  name: optionalText(200),
  email: z.email({ error: 'must be an email address' }).max(320).nullish(),
  company: optionalText(200),
  position: optionalText(200),
  leadStatus: ZLeadStatus.optional(),
  source: z.string().trim().min(1).max(50).optional(),
  tags: z.array(z.string().trim().min(1).max(50)).max(50).optional(),
  notes: optionalText(10_000),
});
export type TContactCreateInput = z.infer<typeof ZContactCreateInput>;

export const ZContact = z.object({
  id: ZId,
  phone: z.string(),
  name: z.string().nullable(),
  pushName: z.string().nullable(),
  email: z.string().nullable(),
  company: z.string().nullable(),
  position: z.string().nullable(),
  leadStatus: ZLeadStatus,
  leadScore: z.number(),
  source: z.string(),
  tags: z.array(z.string()),
  notes: z.string().nullable(),
  optedOutAt: z.date().nullable(),
  lastInboundAt: z.date().nullable(),
  createdAt: z.date(),
  updatedAt: z.date(),
});
export type TContact = z.infer<typeof ZContact>;

export const ZContactGetInput = z.object({ id: ZId });
