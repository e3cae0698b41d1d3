import { z } from 'zod';
import { ZId, ZPageInput, zPage } from './common';
import { ZOwner, ZOwnerChange } from './conversations';

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

const ZReason = z.string().trim().min(1).max(500).optional();
const setEnabledFields = {
  /** true: the bot answers this conversation; false: a human owns it. */
  enabled: z.boolean(),
  reason: ZReason,
  /**
   * Only when turning the bot off: give the conversation back to the bot after this many minutes
   * (left out: the bot stays off until turned on again).
   */
  resumeInMinutes: z
    .number()
    .int()
    .min(1)
    .max(60 * 24 * 30)
    .optional(),
};

export const ZBotSetEnabledInput = z.union([
  z.object({ conversationId: ZId, ...setEnabledFields }).strict(),
  z.object({ phone: z.string().trim().min(5).max(32), ...setEnabledFields }).strict(),
]);
export type TBotSetEnabledInput = z.infer<typeof ZBotSetEnabledInput>;

export const ZBotSetEnabledResult = z.object({ changed: z.boolean(), status: ZBotStatus });
export type TBotSetEnabledResult = z.infer<typeof ZBotSetEnabledResult>;

export const ZBotSetEnabledBulkInput = z.object({
  conversationIds: z.array(ZId).min(1).max(500),
  enabled: z.boolean(),
  reason: ZReason,
});
export type TBotSetEnabledBulkInput = z.infer<typeof ZBotSetEnabledBulkInput>;

export const ZBotSetEnabledBulkResult = z.object({
  results: z.array(z.object({ conversationId: ZId, result: z.enum(['changed', 'unchanged', 'not_found']) })),
  changed: z.number(),
  unchanged: z.number(),
  notFound: z.number(),
});
export type TBotSetEnabledBulkResult = z.infer<typeof ZBotSetEnabledBulkResult>;

export const ZBotHistoryInput = ZPageInput.extend({ conversationId: ZId });
export type TBotHistoryInput = z.infer<typeof ZBotHistoryInput>;
export const ZBotHistoryPage = zPage(ZOwnerChange);

export const ZBotSummaryInput = z
  .object({
    /** How many open handoffs to list, oldest first (the count covers all of them). */
    limit: z.number().int().min(1).max(100).default(20),
  })
  .default({ limit: 20 });
export type TBotSummaryInput = z.infer<typeof ZBotSummaryInput>;

export const ZOpenHandoff = z.object({
  taskId: ZId,
  title: z.string(),
  conversationId: ZId.nullable(),
  contactId: ZId.nullable(),
  contactName: z.string().nullable(),
  phone: z.string().nullable(),
  owner: ZOwner.nullable(),
  createdAt: z.date(),
  /** now − the handoff's creation, in seconds. */
  waitingSeconds: z.number(),
});
export type TOpenHandoff = z.infer<typeof ZOpenHandoff>;

export const ZBotSummary = z.object({
  /** Conversations of live (not deleted) contacts, by owner. */
  conversations: z.object({ bot: z.number(), human: z.number() }),
  openHandoffs: z.object({ count: z.number(), items: z.array(ZOpenHandoff) }),
});
export type TBotSummary = z.infer<typeof ZBotSummary>;
