import { z } from 'zod';
import { ZId } from './common';

export const ZOwner = z.enum(['bot', 'human']);
export type TOwner = z.infer<typeof ZOwner>;

export const ZConversation = z.object({
  id: ZId,
  contactId: ZId,
  owner: ZOwner,
  ownerSince: z.date(),
  ownerReason: z.string().nullable(),
  botResumesAt: z.date().nullable(),
  unreadCount: z.number(),
  lastMessageAt: z.date().nullable(),
  lastMessagePreview: z.string().nullable(),
  createdAt: z.date(),
});
export type TConversation = z.infer<typeof ZConversation>;

export const ZConversationGetInput = z.object({ id: ZId });
