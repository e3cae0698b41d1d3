import { and, asc, desc, eq, gt, inArray, isNull, lt, lte, sql } from 'drizzle-orm';
import {
  type AiUsage,
  type Author,
  contacts,
  conversations,
  type MessageStatus,
  type MessageType,
  messages,
} from '../../../drizzle';
import type { DbOrTx } from '../types';

/** Forward order of delivery statuses; a status never moves to a lower rank. */
export const STATUS_RANK: Record<MessageStatus, number> = {
  not_configured: 0,
  queued: 0,
  pending: 1,
  received: 2,
  sent: 2,
  delivered: 3,
  read: 4,
  played: 5,
  failed: 6,
};

const rankSql = (column: typeof messages.status) => sql`(case ${column}
  when 'queued' then 0 when 'not_configured' then 0 when 'pending' then 1 when 'sent' then 2
  when 'received' then 2 when 'delivered' then 3 when 'read' then 4 when 'played' then 5 else 6 end)`;

export async function insertInbound(
  db: DbOrTx,
  row: {
    conversationId: string;
    providerMessageId: string;
    type: MessageType;
    body: string | null;
    author: Author;
    direction: 'inbound' | 'outbound';
    status: MessageStatus;
    actorId?: string | null;
  },
) {
  const [created] = await db
    .insert(messages)
    .values(row)
    .onConflictDoNothing({ target: messages.providerMessageId })
    .returning({ id: messages.id, createdAt: messages.createdAt });
  return created ?? null;
}

export interface OutboundRow {
  conversationId: string;
  author: Author;
  body: string;
  status: MessageStatus;
  replyGroup: string;
  partIndex: number;
  ai?: AiUsage | null;
  actorId?: string | null;
  campaignId?: string | null;
  error?: string | null;
}

export function insertOutbound(db: DbOrTx, rows: OutboundRow[]) {
  return db
    .insert(messages)
    .values(rows.map((r) => ({ ...r, direction: 'outbound' as const, type: 'text' as const })))
    .returning({ id: messages.id, partIndex: messages.partIndex, status: messages.status });
}

export async function findMessageByProviderId(db: DbOrTx, providerMessageId: string) {
  const [row] = await db
    .select({ id: messages.id, conversationId: messages.conversationId, direction: messages.direction })
    .from(messages)
    .where(eq(messages.providerMessageId, providerMessageId))
    .limit(1);
  return row ?? null;
}

/**
 * Our own outbound message that a `fromMe` webhook echoes: same conversation and text, not yet linked
 * to a WhatsApp id. The oldest such message is claimed first.
 */
export async function claimEchoedOutbound(
  db: DbOrTx,
  p: { conversationId: string; body: string; providerMessageId: string },
) {
  const candidate = db
    .select({ id: messages.id })
    .from(messages)
    .where(
      and(
        eq(messages.conversationId, p.conversationId),
        eq(messages.direction, 'outbound'),
        isNull(messages.providerMessageId),
        eq(messages.body, p.body),
        gt(messages.createdAt, sql`now() - interval '1 day'`),
      ),
    )
    .orderBy(asc(messages.createdAt))
    .limit(1)
    .for('update', { skipLocked: true });
  const [row] = await db
    .update(messages)
    .set({ providerMessageId: p.providerMessageId })
    .where(inArray(messages.id, candidate))
    .returning({ id: messages.id, status: messages.status });
  return row ?? null;
}

/**
 * Moves a message's status forward only. `failed` applies only before delivery. Returns the updated
 * row, or null when the event was late, repeated or about an unknown message.
 */
export async function advanceStatus(
  db: DbOrTx,
  where: { providerMessageId: string } | { gatewayMessageId: string } | { id: string },
  status: MessageStatus,
  error: string | null,
  at: Date,
) {
  const target =
    'id' in where
      ? eq(messages.id, where.id)
      : 'providerMessageId' in where
        ? eq(messages.providerMessageId, where.providerMessageId)
        : eq(messages.gatewayMessageId, where.gatewayMessageId);
  const guard =
    status === 'failed'
      ? sql`${rankSql(messages.status)} < 3`
      : sql`${rankSql(messages.status)} < ${STATUS_RANK[status]}`;
  const [row] = await db
    .update(messages)
    .set({
      status,
      error,
      ...(status === 'sent' ? { sentAt: at } : {}),
      ...(status === 'delivered' ? { deliveredAt: at } : {}),
      ...(status === 'read' || status === 'played' ? { readAt: at } : {}),
    })
    .where(and(target, eq(messages.direction, 'outbound'), guard))
    .returning({
      id: messages.id,
      conversationId: messages.conversationId,
      status: messages.status,
      campaignId: messages.campaignId,
    });
  return row ?? null;
}

/** The message a send job works on, with the phone it goes to. */
export async function findOutboundForSend(db: DbOrTx, id: string) {
  const [row] = await db
    .select({
      id: messages.id,
      conversationId: messages.conversationId,
      body: messages.body,
      status: messages.status,
      replyGroup: messages.replyGroup,
      partIndex: messages.partIndex,
      providerMessageId: messages.providerMessageId,
      gatewayMessageId: messages.gatewayMessageId,
      campaignId: messages.campaignId,
      author: messages.author,
      contactId: contacts.id,
      phone: contacts.phone,
    })
    .from(messages)
    .innerJoin(conversations, eq(conversations.id, messages.conversationId))
    .innerJoin(contacts, eq(contacts.id, conversations.contactId))
    .where(and(eq(messages.id, id), eq(messages.direction, 'outbound')))
    .limit(1);
  return row ?? null;
}

/** Claims a queued message for sending; null when another worker has it or it is no longer queued. */
export async function claimForSend(db: DbOrTx, id: string) {
  const [row] = await db
    .update(messages)
    .set({ status: 'pending' })
    .where(and(eq(messages.id, id), eq(messages.status, 'queued')))
    .returning({ id: messages.id });
  return row ?? null;
}

export async function markSent(db: DbOrTx, id: string, gatewayMessageId: string | null, at: Date) {
  await db
    .update(messages)
    .set({
      gatewayMessageId,
      sentAt: at,
      status: sql`case when ${messages.status} = 'pending' then 'sent' else ${messages.status} end`,
    })
    .where(eq(messages.id, id));
}

export async function setStatus(db: DbOrTx, id: string, status: MessageStatus, error: string | null) {
  await db.update(messages).set({ status, error }).where(eq(messages.id, id));
}

export async function nextPart(db: DbOrTx, replyGroup: string, afterIndex: number) {
  const [row] = await db
    .select({ id: messages.id })
    .from(messages)
    .where(
      and(
        eq(messages.replyGroup, replyGroup),
        gt(messages.partIndex, afterIndex),
        eq(messages.status, 'queued'),
      ),
    )
    .orderBy(asc(messages.partIndex))
    .limit(1);
  return row ?? null;
}

/** Marks the remaining parts of a reply as failed after an earlier part failed for good. */
export async function failRemainingParts(db: DbOrTx, replyGroup: string, afterIndex: number, error: string) {
  await db
    .update(messages)
    .set({ status: 'failed', error })
    .where(
      and(
        eq(messages.replyGroup, replyGroup),
        gt(messages.partIndex, afterIndex),
        eq(messages.status, 'queued'),
      ),
    );
}

/** Inbound messages after a point in time (the burst the bot has not answered yet), oldest first. */
export function inboundSince(db: DbOrTx, conversationId: string, after: Date | null, upTo: Date) {
  return db
    .select({ id: messages.id, type: messages.type, body: messages.body, createdAt: messages.createdAt })
    .from(messages)
    .where(
      and(
        eq(messages.conversationId, conversationId),
        eq(messages.direction, 'inbound'),
        after ? gt(messages.createdAt, after) : undefined,
        lte(messages.createdAt, upTo),
      ),
    )
    .orderBy(asc(messages.createdAt), asc(messages.id));
}

/** The latest messages before a point, newest first (for the prompt's history window). */
export function historyBefore(db: DbOrTx, conversationId: string, before: Date, limit: number) {
  return db
    .select({
      author: messages.author,
      direction: messages.direction,
      body: messages.body,
      type: messages.type,
    })
    .from(messages)
    .where(
      and(
        eq(messages.conversationId, conversationId),
        lt(messages.createdAt, before),
        inArray(messages.status, ['received', 'sent', 'delivered', 'read', 'played', 'queued', 'pending']),
      ),
    )
    .orderBy(desc(messages.createdAt), desc(messages.id))
    .limit(limit);
}
