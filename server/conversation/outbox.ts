import { randomUUID } from 'node:crypto';
import type { ActorType, AiUsage, Author } from '../../drizzle';
import * as mq from '../db/queries/messages';
import type { DbOrTx } from '../db/types';
import type { PipelineDeps } from './deps';
import { splitReply } from './split';

export interface OutboundText {
  conversationId: string;
  text: string;
  author: Author;
  ai?: AiUsage | null;
  /** Who wrote it (a person, an API key, the server): kept on every part. */
  actorId?: string | null;
  actorType?: ActorType | null;
  actorName?: string | null;
  campaignId?: string | null;
  /** Split into WhatsApp-sized parts by the persona's limits (default true). */
  split?: boolean;
  /** Cloud API: send this approved template instead (`text` is what the message row shows). */
  cloudTemplate?: { name: string; language: string; values: string[] } | null;
  /** A bot reply: also marks the conversation's inbound messages up to this time as handled. */
  handledThrough?: Date;
}

/**
 * Stores an outbound text as one row per part and schedules the first part's send job, in the
 * caller's transaction and in one statement: a message is either stored and scheduled, or neither.
 * Parts go out in order, each part's job scheduling the next. Without a gateway token the rows are
 * kept as not_configured. The caller wakes the send workers once the transaction has committed.
 */
export async function queueOutbound(
  tx: DbOrTx,
  deps: Pick<PipelineDeps, 'gateway' | 'persona'>,
  msg: OutboundText,
): Promise<{ messageIds: string[] }> {
  const { maxChars, maxParts } = deps.persona.replySplitting;
  const parts =
    msg.split === false || msg.cloudTemplate ? [msg.text] : splitReply(msg.text, { maxChars, maxParts });
  if (!parts.length) return { messageIds: [] };
  const configured = deps.gateway.configured;
  const messageIds = await mq.storeOutbound(tx, {
    conversationId: msg.conversationId,
    author: msg.author,
    parts,
    status: configured ? 'queued' : 'not_configured',
    error: configured
      ? null
      : deps.gateway.name === 'whatsapp-cloud'
        ? 'WHATSAPP_CLOUD_ACCESS_TOKEN or WHATSAPP_CLOUD_PHONE_NUMBER_ID is not configured'
        : 'WASENDER_API_TOKEN is not configured',
    replyGroup: randomUUID(),
    ai: msg.ai ?? null,
    actorId: msg.actorId ?? null,
    actorType: msg.actorType ?? null,
    actorName: msg.actorName ?? null,
    campaignId: msg.campaignId ?? null,
    cloudTemplate: msg.cloudTemplate ?? null,
    at: new Date(),
    agent: msg.author === 'agent',
    handledThrough: msg.handledThrough ?? null,
    send: configured,
  });
  return { messageIds };
}
