import { randomUUID } from 'node:crypto';
import type { ActorType, AiUsage, Author } from '../../drizzle';
import * as convQ from '../db/queries/conversations';
import { recordEvents } from '../db/queries/events';
import * as mq from '../db/queries/messages';
import type { DbOrTx } from '../db/types';
import { type PipelineDeps, QUEUE_SEND, type SendJob } from './deps';
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
}

/**
 * Stores an outbound text as one row per part and schedules the first part's send job, in the
 * caller's transaction: a message is either stored and scheduled, or neither. Parts go out in order,
 * each part's job scheduling the next. Without a gateway token the rows are kept as not_configured.
 */
export async function queueOutbound(
  tx: DbOrTx,
  deps: Pick<PipelineDeps, 'queue' | 'gateway' | 'persona'>,
  msg: OutboundText,
): Promise<{ messageIds: string[] }> {
  const { maxChars, maxParts } = deps.persona.replySplitting;
  const parts =
    msg.split === false || msg.cloudTemplate ? [msg.text] : splitReply(msg.text, { maxChars, maxParts });
  if (!parts.length) return { messageIds: [] };
  const replyGroup = randomUUID();
  const configured = deps.gateway.configured;
  const rows = await mq.insertOutbound(
    tx,
    parts.map((body, i) => ({
      conversationId: msg.conversationId,
      author: msg.author,
      body,
      status: configured ? 'queued' : 'not_configured',
      error: configured
        ? null
        : deps.gateway.name === 'whatsapp-cloud'
          ? 'WHATSAPP_CLOUD_ACCESS_TOKEN or WHATSAPP_CLOUD_PHONE_NUMBER_ID is not configured'
          : 'WASENDER_API_TOKEN is not configured',
      replyGroup,
      partIndex: i,
      ai: i === 0 ? (msg.ai ?? null) : null,
      actorId: msg.actorId ?? null,
      actorType: msg.actorType ?? null,
      actorName: msg.actorName ?? null,
      campaignId: msg.campaignId ?? null,
      cloudTemplate: msg.cloudTemplate ?? null,
    })),
  );
  const ordered = [...rows].sort((a, b) => a.partIndex - b.partIndex);
  await convQ.touchConversation(tx, msg.conversationId, {
    at: new Date(),
    preview: parts.at(-1)!,
    inbound: false,
    agent: msg.author === 'agent',
  });
  await recordEvents(
    tx,
    ordered.map((r) => ({
      type: 'message.created' as const,
      conversationId: msg.conversationId,
      messageId: r.id,
      direction: 'outbound' as const,
      author: msg.author,
    })),
  );
  if (configured) await deps.queue.send<SendJob>(QUEUE_SEND, { messageId: ordered[0]!.id }, { tx });
  return { messageIds: ordered.map((r) => r.id) };
}
