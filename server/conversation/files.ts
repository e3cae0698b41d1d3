import type { Gateway, MediaKind, SendOptions, SendResult } from '../integrations/gateway';
import { GatewayRejectedError } from '../integrations/gateway';
import type { MediaLinks, MediaStore } from '../integrations/media-store';

/** A stored file ready to send: where it is kept and what it is. */
export interface StoredFile {
  kind: MediaKind;
  mimeType: string;
  fileName: string | null;
  storageKey: string;
}

/**
 * Sends a stored file through the gateway (replies, campaigns, group sends alike): the gateway fetches
 * it from a signed link named by `linkId` (WaSender) or reads its bytes (an upload). What cannot be sent
 * is refused before the gateway call, so the caller marks it failed and never sends it twice.
 */
export async function sendStoredFile(
  gateway: Gateway,
  media: { store: MediaStore; links: MediaLinks } | undefined,
  send: { to: string; caption: string | null; linkId: string; file: StoredFile },
  opts?: SendOptions,
): Promise<SendResult> {
  const { file } = send;
  if (file.kind === 'sticker') throw new GatewayRejectedError(gateway.name, null, 'a sticker cannot be sent');
  if (!gateway.sendMedia)
    throw new GatewayRejectedError(gateway.name, null, 'this gateway cannot send files');
  if (!media) throw new GatewayRejectedError(gateway.name, null, 'no media store is configured');
  const publicUrl = media.links.publicUrl(send.linkId);
  if (gateway.fetchesMediaByUrl && !publicUrl)
    throw new GatewayRejectedError(
      gateway.name,
      null,
      'PUBLIC_BASE_URL is not set: the gateway cannot fetch the file',
    );
  const { store } = media;
  return gateway.sendMedia(
    {
      to: send.to,
      kind: file.kind,
      mimeType: file.mimeType,
      fileName: file.fileName,
      caption: send.caption,
      publicUrl,
      async read() {
        const bytes = await store.get(file.storageKey);
        if (!bytes) throw new Error('the stored file is missing');
        return bytes;
      },
    },
    opts,
  );
}
