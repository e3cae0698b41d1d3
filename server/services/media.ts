import { createHash, randomUUID } from 'node:crypto';
import type { CampaignAttachment } from '../../drizzle';
import type { TCampaignAttachmentInput, TMediaUrl, TQueuedMessages, TSendMediaInput } from '../contracts';
import { type PipelineDeps, QUEUE_SEND, type SendJob } from '../conversation/deps';
import { notePersonReplied } from '../conversation/ownership';
import * as convQ from '../db/queries/conversations';
import { recordEvents } from '../db/queries/events';
import * as gq from '../db/queries/groups';
import * as mediaQ from '../db/queries/media';
import * as mq from '../db/queries/messages';
import { AppError, badRequest, notFound } from '../errors';
import type { Gateway } from '../integrations/gateway';
import type { MediaLinks, MediaStore } from '../integrations/media-store';
import { extensionOf, fitsKind, sniff } from '../integrations/sniff';
import { actorOf } from './actor';
import type { Caller } from './caller';
import type { Visibility } from './visibility';

/** Media files of messages: signed links to read them, and agents sending files. */
export interface MediaService {
  /** A short-lived signed link to a message's stored file. */
  url(input: { messageId: string }, caller: Caller): Promise<TMediaUrl>;
  /** An agent's file (image, document, audio, video) with an optional caption, sent through the gateway. */
  sendMedia(input: TSendMediaInput, caller: Caller): Promise<TQueuedMessages>;
  /**
   * For the `/media/:id` route, after its signature was checked: the file of a message's media row or
   * of a group send (`id` is the row's), or null.
   */
  file(mediaId: string): Promise<{ bytes: Uint8Array; mimeType: string; fileName: string } | null>;
  /** Checks a link's signature and expiry. */
  checkLink(mediaId: string, exp: string | undefined, sig: string | undefined): 'ok' | 'expired' | 'invalid';
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
const BASE64URL = /^[A-Za-z0-9_-]*$/;

/** The bytes of a base64 (or base64url) string, with an optional `data:<type>;base64,` prefix. */
function decodeBase64(data: string): Buffer | null {
  const comma = data.startsWith('data:') ? data.indexOf(',') : -1;
  if (data.startsWith('data:') && (comma === -1 || !data.slice(0, comma).endsWith(';base64'))) return null;
  const body = (comma === -1 ? data : data.slice(comma + 1)).replace(/\s+/g, '');
  if (body.length === 0 || !(BASE64.test(body) || BASE64URL.test(body))) return null;
  return Buffer.from(body, BASE64URL.test(body) ? 'base64url' : 'base64');
}

const MB = 1024 * 1024;

/**
 * An uploaded file checked like every outbound file: base64, at most `maxBytes` once decoded, and its
 * content (sniffed, never the claimed type) a supported file of `kind`. Throws a 400 naming `field`.
 */
export function checkUpload(
  input: { kind: 'image' | 'audio' | 'video' | 'document'; data: string },
  maxBytes: number,
  field: string,
): { bytes: Buffer; mimeType: string } {
  const bytes = decodeBase64(input.data);
  if (!bytes) throw badRequest(`${field}: must be base64`, { [field]: ['must be base64'] });
  if (bytes.byteLength > maxBytes)
    throw badRequest(
      `${field}: the file is ${(bytes.byteLength / MB).toFixed(1)} MB; the limit is ${(maxBytes / MB).toFixed(1)} MB`,
      { [field]: ['is too large'] },
    );
  const found = sniff(bytes);
  if (!found || !fitsKind(input.kind, found))
    throw badRequest(`${field}: the content is not a supported ${input.kind} file`, {
      [field]: [`is not a supported ${input.kind} file`],
    });
  return { bytes, mimeType: found.mimeType };
}

/**
 * Files can be sent from here: a media store, a gateway that sends files, and PUBLIC_BASE_URL when the
 * gateway fetches them (PRECONDITION_FAILED otherwise, before anything is stored). An unconfigured
 * gateway is not refused here: its sends fail as "not configured" like text.
 */
export function requireFileSending<M extends { links: MediaLinks }>(
  media: M | undefined,
  gateway: { configured: boolean; name: string; sendsMedia: boolean; fetchesMediaByUrl: boolean },
): M {
  if (!media) throw new AppError('PRECONDITION_FAILED', 'Media storage is not set up on this server');
  if (gateway.configured && !gateway.sendsMedia)
    throw new AppError('PRECONDITION_FAILED', `The ${gateway.name} gateway cannot send files`);
  if (gateway.configured && gateway.fetchesMediaByUrl && !media.links.publicUrl('check'))
    throw new AppError(
      'PRECONDITION_FAILED',
      'PUBLIC_BASE_URL is not set: the gateway could not fetch the file from this server',
    );
  return media;
}

/**
 * Checks an uploaded file (a 400 naming `field` before anything is stored) and stores it once, for
 * every send it goes with.
 */
export async function storeUpload(
  store: MediaStore,
  input: TCampaignAttachmentInput,
  maxBytes: number,
  field = 'attachment.data',
): Promise<CampaignAttachment> {
  const { bytes, mimeType } = checkUpload(input, maxBytes, field);
  const storageKey = `out/${randomUUID()}.${extensionOf(mimeType)}`;
  await store.put(storageKey, bytes, mimeType);
  return {
    kind: input.kind,
    mimeType,
    fileName: input.fileName ?? null,
    bytes: bytes.byteLength,
    sha256: createHash('sha256').update(bytes).digest('hex'),
    storageKey,
  };
}

/** What `requireFileSending` needs to know of a gateway. */
export function gatewayFiles(gateway: Gateway) {
  return {
    configured: gateway.configured,
    name: gateway.name,
    sendsMedia: Boolean(gateway.sendMedia),
    fetchesMediaByUrl: Boolean(gateway.fetchesMediaByUrl),
  };
}

export function createMediaService(
  deps: PipelineDeps,
  opts: { visibility: Visibility; sendMaxBytes: number },
): MediaService {
  const { db } = deps;
  const media = () => {
    if (!deps.media) throw new AppError('PRECONDITION_FAILED', 'Media storage is not set up on this server');
    return deps.media;
  };
  const quiet = () => ({ humanQuietMinutes: deps.settings.humanQuietMinutes });

  /** A group send's file, served under a link signed for the group send row's id. */
  async function groupSendFile(sendId: string) {
    const a = (await gq.findGroupSend(db, sendId))?.attachment;
    if (!a) return null;
    const bytes = await media().store.get(a.storageKey);
    if (!bytes) return null;
    return { bytes, mimeType: a.mimeType, fileName: a.fileName ?? `${a.kind}.${extensionOf(a.mimeType)}` };
  }

  return {
    async url(input, caller) {
      const file = await mediaQ.byMessage(db, input.messageId);
      const row = file ? await mediaQ.readMedia(db, file.id) : null;
      if (!file || !row) throw notFound('Media of message', input.messageId);
      await opts.visibility.require(row.conversationId, caller);
      if (file.status !== 'stored' || !file.mimeType)
        throw new AppError(
          'PRECONDITION_FAILED',
          `The file is not available (${file.status}${file.reason ? `: ${file.reason}` : ''})`,
        );
      const { links } = media();
      const now = Date.now();
      const url = links.publicUrl(file.id, { now }) ?? links.path(file.id, { now });
      return {
        url,
        expiresAt: new Date((Math.floor(now / 1000) + links.ttlSeconds) * 1000),
        mimeType: file.mimeType,
        fileName: file.fileName,
      };
    },

    async sendMedia(input, caller) {
      const { store } = media();
      await opts.visibility.require(input.conversationId, caller);
      if (!(await convQ.readConversation(db, input.conversationId)))
        throw notFound('Conversation', input.conversationId);
      requireFileSending(deps.media, gatewayFiles(deps.gateway));
      // Stored before the message exists: a failure here leaves no message behind (an orphan file at worst).
      const file = await storeUpload(store, input, opts.sendMaxBytes, 'data');

      const actor = actorOf(caller);
      const configured = deps.gateway.configured;
      const caption = input.caption?.trim() || null;
      const messageId = await db.transaction(async (tx) => {
        const [row] = await mq.insertOutbound(tx, [
          {
            conversationId: input.conversationId,
            author: 'agent',
            type: input.kind,
            body: caption ?? '',
            status: configured ? 'queued' : 'not_configured',
            error: configured ? null : 'WASENDER_API_TOKEN is not configured',
            replyGroup: randomUUID(),
            partIndex: 0,
            actorId: actor.id,
            actorType: actor.type,
            actorName: actor.name,
          },
        ]);
        await mediaQ.insertStored(tx, { ...file, messageId: row!.id });
        await convQ.touchConversation(tx, input.conversationId, {
          at: new Date(),
          preview: caption ?? `[${input.kind}]`,
          inbound: false,
          agent: true,
        });
        await recordEvents(tx, [
          {
            type: 'message.created',
            conversationId: input.conversationId,
            messageId: row!.id,
            direction: 'outbound',
            author: 'agent',
          },
        ]);
        if (configured) await deps.queue.send<SendJob>(QUEUE_SEND, { messageId: row!.id }, { tx });
        await notePersonReplied(tx, input.conversationId, actor, quiet());
        return row!.id;
      });
      deps.queue.wake(QUEUE_SEND);
      return {
        conversationId: input.conversationId,
        messageIds: [messageId],
        status: configured ? 'queued' : 'not_configured',
      };
    },

    async file(mediaId) {
      const row = await mediaQ.readMedia(db, mediaId);
      if (!row) return groupSendFile(mediaId);
      const m = row.media;
      if (m?.status !== 'stored' || !m.storageKey || !m.mimeType) return null;
      const bytes = await media().store.get(m.storageKey);
      if (!bytes) return null;
      return { bytes, mimeType: m.mimeType, fileName: m.fileName ?? `${m.kind}.${extensionOf(m.mimeType)}` };
    },

    checkLink(mediaId, exp, sig) {
      return media().links.check(mediaId, exp, sig);
    },
  };
}
