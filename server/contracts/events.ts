import { z } from 'zod';
import { ZId } from './common';
import { ZMessageAuthor, ZMessageDirection, ZOwner } from './conversations';

/** What the dashboards are told about, in order, through `conversations.events`. */
export const ZAppEvent = z.discriminatedUnion('type', [
  z.object({
    type: z.literal('message.created'),
    conversationId: ZId,
    messageId: ZId,
    direction: ZMessageDirection,
    author: ZMessageAuthor,
  }),
  z.object({
    type: z.literal('message.status'),
    conversationId: ZId,
    messageId: ZId,
    status: z.string(),
  }),
  z.object({
    type: z.literal('conversation.owner'),
    conversationId: ZId,
    owner: ZOwner,
    reason: z.string().nullable(),
  }),
  z.object({ type: z.literal('conversation.updated'), conversationId: ZId }),
  z.object({ type: z.literal('campaign.progress'), campaignId: ZId }),
  /** A `leads.rescore` run finished; `leads.rescoreStatus` has its counts. */
  z.object({
    type: z.literal('leads.rescore'),
    runId: ZId,
    status: z.enum(['completed', 'failed']),
  }),
  /** The server disabled an outbound webhook subscription after sustained delivery failure. */
  z.object({ type: z.literal('webhook.disabled'), subscriptionId: ZId, reason: z.string() }),
]);
export type TAppEvent = z.infer<typeof ZAppEvent>;
