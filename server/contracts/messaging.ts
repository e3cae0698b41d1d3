import { z } from 'zod';
import { ZId } from './common';
import { ZTemplateUse } from './templates';

export const ZSendMessageInput = z
  .object({
    conversationId: ZId,
    /**
     * The text as written. Exactly `/code` (a canned response's code) sends that canned response, its
     * variables filled in; any other text is sent as written.
     */
    text: z.string().trim().min(1, { error: 'text is required' }).max(4096).optional(),
    /** Or send this canned response, its `{{variables}}` filled from the contact and the sender. */
    cannedResponseId: ZId.optional(),
  })
  .refine((v) => Boolean(v.text) !== Boolean(v.cannedResponseId), {
    error: 'give either text or cannedResponseId',
    path: ['text'],
  });
export type TSendMessageInput = z.infer<typeof ZSendMessageInput>;

export const ZQueuedMessages = z.object({
  conversationId: ZId,
  messageIds: z.array(ZId),
  /** queued: on its way; not_configured: stored, but no gateway token is set. */
  status: z.enum(['queued', 'not_configured']),
});
export type TQueuedMessages = z.infer<typeof ZQueuedMessages>;

export const ZStartConversationInput = z
  .object({
    phone: z.string().trim().min(5).max(32),
    name: z.string().trim().min(1).max(200).optional(),
    /** The first message, as written by the agent. */
    text: z.string().trim().min(1).max(4096).optional(),
    /** Or let the bot write a short introduction in the persona's voice. */
    aiIntro: z.boolean().optional(),
    /**
     * WhatsApp Cloud API: the approved template sent when the customer's 24-hour window is closed
     * (alone, or beside `text`/`aiIntro`, which go when the window is open).
     */
    template: ZTemplateUse.optional(),
  })
  .refine((v) => !(v.text && v.aiIntro) && Boolean(v.text || v.aiIntro || v.template), {
    error: 'give text, aiIntro: true or a template (text and aiIntro not both)',
    path: ['text'],
  });
export type TStartConversationInput = z.infer<typeof ZStartConversationInput>;

export const ZSetOwnerInput = z.object({
  conversationId: ZId,
  owner: z.enum(['bot', 'human']),
  reason: z.string().trim().max(500).optional(),
});
export type TSetOwnerInput = z.infer<typeof ZSetOwnerInput>;

export const ZHandBackInput = z.object({
  conversationId: ZId,
  /** Send the persona's "bot is back" message to the customer. */
  notifyCustomer: z.boolean().default(false),
  reason: z.string().trim().max(500).optional(),
});
export type THandBackInput = z.infer<typeof ZHandBackInput>;

export const ZOwnerChanged = z.object({
  conversationId: ZId,
  owner: z.enum(['bot', 'human']),
  /** False when the conversation already had this owner. */
  changed: z.boolean(),
});
export type TOwnerChanged = z.infer<typeof ZOwnerChanged>;
