import { z } from 'zod';
import { ZId } from './common';
import { ZOwner } from './conversations';

export const ZBotStatusInput = z.union([
  z.object({ conversationId: ZId }).strict(),
  z.object({ phone: z.string().trim().min(5).max(32) }).strict(),
]);
export type TBotStatusInput = z.infer<typeof ZBotStatusInput>;

export const ZBotStatus = z.object({
  conversationId: ZId,
  contactId: ZId,
  phone: z.string(),
  owner: ZOwner,
  botActive: z.boolean(),
  ownerSince: z.date(),
  ownerReason: z.string().nullable(),
  botResumesAt: z.date().nullable(),
});
export type TBotStatus = z.infer<typeof ZBotStatus>;
