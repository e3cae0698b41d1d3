import { createHash } from 'node:crypto';
import { type PipelineDeps, QUEUE_REPLY, type ReplyJob } from '../conversation/deps';
import * as convQ from '../db/queries/conversations';
import { recordEvents } from '../db/queries/events';
import * as mediaQ from '../db/queries/media';
import {
  GatewayNotConfiguredError,
  GatewayRateLimitedError,
  GatewayRejectedError,
  GatewayTransientError,
} from '../integrations/gateway';
import { extensionOf, fitsKind, sniff } from '../integrations/sniff';

export interface MediaJob {
  mediaId: string;
}

export type MediaOutcome = 'stored' | 'refused' | 'failed' | 'already-settled' | 'missing';

const MB = 1024 * 1024;
const size = (n: number) => (n >= MB ? `${(n / MB).toFixed(1)} MB` : `${Math.ceil(n / 1024)} KB`);

/** The storage key of a file: by month, named by its media id (never by the sender's file name). */
export function storageKeyFor(mediaId: string, mimeType: string, at: Date): string {
  const month = `${at.getUTCFullYear()}/${String(at.getUTCMonth() + 1).padStart(2, '0')}`;
  return `${month}/${mediaId}.${extensionOf(mimeType)}`;
}

/**
 * Downloads, checks and stores an inbound attachment, once, after its message was stored (the
 * webhook never waits for it): refused when larger than MEDIA_MAX_BYTES or when its content is not
 * a file of its kind, failed when the gateway cannot give it; a voice note is transcribed. The
 * outcome is written on the media row (with a reason to show) and the conversation's reply job is
 * queued again, so the bot answers the message with its file (see reply.ts: a burst with a file
 * still downloading waits for it). A second run finds the row settled and changes nothing.
 */
export async function runMediaJob(
  deps: PipelineDeps,
  job: { data: MediaJob; retryCount: number },
  maxAttempts: number,
): Promise<MediaOutcome> {
  const { db, log } = deps;
  const media = deps.media;
  const row = await mediaQ.readMedia(db, job.data.mediaId);
  if (!row) return 'missing';
  if (row.media.status !== 'pending') return 'already-settled';
  const { media: m, conversationId } = row;
  const lastAttempt = job.retryCount >= maxAttempts - 1;

  const finish = async (
    result: Parameters<typeof mediaQ.settle>[2],
    outcome: MediaOutcome,
  ): Promise<MediaOutcome> => {
    const changed = await db.transaction(async (tx) => {
      if (!(await mediaQ.settle(tx, m.id, result))) return false;
      await recordEvents(tx, [{ type: 'conversation.updated', conversationId }]);
      if (row.direction === 'inbound') {
        // The reply waits for the file: ask it again, for the conversation's newest message.
        const conv = await convQ.readConversation(tx, conversationId);
        const latest = conv?.latest;
        if (latest)
          await deps.queue.send<ReplyJob>(QUEUE_REPLY, { conversationId, messageId: latest.id }, { tx });
      }
      return true;
    });
    if (changed) deps.queue.wake(QUEUE_REPLY);
    return changed ? outcome : 'already-settled';
  };

  if (!media)
    return finish({ status: 'failed', reason: 'Media storage is not set up on this server' }, 'failed');
  const { maxBytes } = media;
  if (m.declaredBytes !== null && m.declaredBytes > maxBytes) {
    return finish(
      {
        status: 'refused',
        reason: `File too large: ${size(m.declaredBytes)} (the limit is ${size(maxBytes)})`,
        bytes: m.declaredBytes,
      },
      'refused',
    );
  }
  if (!deps.gateway.downloadMedia) {
    return finish(
      { status: 'failed', reason: `The ${deps.gateway.name} gateway cannot download media` },
      'failed',
    );
  }

  let file: { bytes: Uint8Array; mimeType: string | null };
  try {
    file = await deps.gateway.downloadMedia(m.handle ?? {}, { maxBytes });
  } catch (err) {
    if (err instanceof GatewayRejectedError) {
      const tooLarge = /larger than/.test(err.reason);
      return finish(
        {
          status: 'refused',
          reason: tooLarge
            ? `File too large: more than ${size(maxBytes)} (the limit)`
            : `The gateway refused the download: ${err.reason}`,
        },
        'refused',
      );
    }
    if (err instanceof GatewayNotConfiguredError) {
      return finish({ status: 'failed', reason: 'The gateway is not configured (no API token)' }, 'failed');
    }
    if ((err instanceof GatewayTransientError || err instanceof GatewayRateLimitedError) && !lastAttempt)
      throw err;
    log.warn({ mediaId: m.id, err }, 'media download failed');
    if (!lastAttempt) throw err;
    return finish(
      { status: 'failed', reason: 'The file could not be downloaded from the gateway' },
      'failed',
    );
  }

  if (file.bytes.byteLength > maxBytes) {
    return finish(
      {
        status: 'refused',
        reason: `File too large: ${size(file.bytes.byteLength)} (the limit is ${size(maxBytes)})`,
        bytes: file.bytes.byteLength,
      },
      'refused',
    );
  }
  const claimed = m.mimeType ?? file.mimeType;
  const found = sniff(file.bytes, claimed);
  if (!found || !fitsKind(m.kind, found)) {
    return finish(
      {
        status: 'refused',
        reason: `The content is not a supported ${m.kind} file${claimed ? ` (it claimed to be ${claimed})` : ''}${
          found ? `; it looks like ${found.mimeType}` : ''
        }`,
        bytes: file.bytes.byteLength,
      },
      'refused',
    );
  }

  const storageKey = storageKeyFor(m.id, found.mimeType, row.createdAt);
  try {
    await media.store.put(storageKey, file.bytes, found.mimeType);
  } catch (err) {
    log.warn({ mediaId: m.id, err }, 'media store failed');
    if (!lastAttempt) throw err;
    return finish({ status: 'failed', reason: 'The file could not be stored' }, 'failed');
  }

  let transcript: string | null = null;
  let reason: string | null = null;
  if (m.kind === 'audio' && media.transcriber?.configured) {
    try {
      transcript =
        (await media.transcriber.transcribe({
          bytes: file.bytes,
          mimeType: found.mimeType,
          fileName: `voice.${extensionOf(found.mimeType)}`,
        })) || null;
    } catch (err) {
      log.warn({ mediaId: m.id, err }, 'transcription failed');
      if (!lastAttempt) throw err;
      reason = 'The voice note could not be transcribed';
    }
  }
  return finish(
    {
      status: 'stored',
      mimeType: found.mimeType,
      bytes: file.bytes.byteLength,
      sha256: createHash('sha256').update(file.bytes).digest('hex'),
      storageKey,
      transcript,
      reason,
    },
    'stored',
  );
}
