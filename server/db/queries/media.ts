import { and, eq, inArray } from 'drizzle-orm';
import { type MediaKindValue, type MediaStatus, messageMedia, messages } from '../../../drizzle';
import type { DbOrTx } from '../types';

/** The job queue that downloads inbound media (its jobs are enqueued with the message, see messages.ts). */
export const QUEUE_MEDIA = 'pipeline.media';

export type MediaRow = typeof messageMedia.$inferSelect;

/** A media row with its message's conversation and direction. */
export async function readMedia(db: DbOrTx, id: string) {
  const [row] = await db
    .select({
      media: messageMedia,
      conversationId: messages.conversationId,
      direction: messages.direction,
      createdAt: messages.createdAt,
    })
    .from(messageMedia)
    .innerJoin(messages, eq(messages.id, messageMedia.messageId))
    .where(eq(messageMedia.id, id))
    .limit(1);
  return row ?? null;
}

export async function mediaForMessages(db: DbOrTx, messageIds: string[]): Promise<MediaRow[]> {
  if (!messageIds.length) return [];
  return db.select().from(messageMedia).where(inArray(messageMedia.messageId, messageIds));
}

/**
 * A file still pending this long no longer holds the reply back (its job died for good): the bot
 * answers without it rather than never.
 */
export const MEDIA_WAIT_LIMIT_MS = 10 * 60_000;

/** Settles a pending row once (a second run of the job changes nothing): true when it changed. */
export async function settle(
  db: DbOrTx,
  id: string,
  result:
    | {
        status: 'stored';
        mimeType: string;
        bytes: number;
        sha256: string;
        storageKey: string;
        transcript: string | null;
        reason: string | null;
      }
    | { status: Exclude<MediaStatus, 'stored' | 'pending'>; reason: string; bytes?: number | null },
): Promise<boolean> {
  const rows = await db
    .update(messageMedia)
    .set(
      result.status === 'stored'
        ? { ...result, handle: null }
        : { status: result.status, reason: result.reason, bytes: result.bytes ?? null, handle: null },
    )
    .where(and(eq(messageMedia.id, id), eq(messageMedia.status, 'pending')))
    .returning({ id: messageMedia.id, messageId: messageMedia.messageId });
  // A refused or failed file's reason is the message's error too, where every message list shows it.
  if (rows[0] && result.status !== 'stored')
    await db.update(messages).set({ error: result.reason }).where(eq(messages.id, rows[0].messageId));
  return rows.length > 0;
}

/** The media row of an outbound message, stored already. */
export async function insertStored(
  db: DbOrTx,
  row: {
    id?: string;
    messageId: string;
    kind: MediaKindValue;
    mimeType: string;
    fileName: string | null;
    bytes: number;
    sha256: string;
    storageKey: string;
  },
): Promise<MediaRow> {
  const [inserted] = await db
    .insert(messageMedia)
    .values({ ...row, status: 'stored' })
    .returning();
  return inserted!;
}

export async function byMessage(db: DbOrTx, messageId: string): Promise<MediaRow | null> {
  const [row] = await db.select().from(messageMedia).where(eq(messageMedia.messageId, messageId)).limit(1);
  return row ?? null;
}
