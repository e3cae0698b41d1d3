import { sql } from 'drizzle-orm';
import { bigint, boolean, check, index, jsonb, pgTable, text, uniqueIndex, uuid } from 'drizzle-orm/pg-core';
import { createdAt, id, updatedAt } from './_columns';
import { messages } from './conversations';

export const MEDIA_STATUSES = ['pending', 'stored', 'refused', 'failed'] as const;
export type MediaStatus = (typeof MEDIA_STATUSES)[number];
export type MediaKindValue = 'image' | 'audio' | 'video' | 'document' | 'sticker';

/**
 * The file of a media message, inbound (downloaded by the media job) or outbound (uploaded by an
 * agent). The bytes live in the media store (a folder or an S3-compatible bucket) under `storageKey`.
 */
export const messageMedia = pgTable(
  'message_media',
  {
    id: id(),
    messageId: uuid()
      .notNull()
      .references(() => messages.id, { onDelete: 'cascade' }),
    kind: text().$type<MediaKindValue>().notNull(),
    /** The type decided from the file's content (the gateway's claim until then). */
    mimeType: text(),
    fileName: text(),
    /** A voice note rather than an audio file. */
    voice: boolean().notNull().default(false),
    /** The size the gateway announced; `bytes` is the size stored. */
    declaredBytes: bigint({ mode: 'number' }),
    bytes: bigint({ mode: 'number' }),
    sha256: text(),
    storageKey: text(),
    status: text().$type<MediaStatus>().notNull().default('pending'),
    /** Why the file was refused or failed, in words safe to show. */
    reason: text(),
    /** A voice note's words (speech to text). */
    transcript: text(),
    /** What the gateway needs to download an inbound file; dropped once stored. */
    handle: jsonb().$type<Record<string, unknown>>(),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [
    uniqueIndex('message_media_message_id_key').on(t.messageId),
    index('message_media_pending_idx').on(t.createdAt).where(sql`${t.status} = 'pending'`),
    check('message_media_status_check', sql`${t.status} in ('pending', 'stored', 'refused', 'failed')`),
  ],
).enableRLS();
