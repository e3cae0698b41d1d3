/**
 * The type of a file from its first bytes (magic numbers), for the types WhatsApp carries: images
 * (JPEG, PNG, GIF, WebP), audio (Ogg/Opus, MP3, AAC, AMR, WAV, M4A), video (MP4, 3GP, QuickTime,
 * WebM), documents (PDF, Office files in ZIP or OLE containers, ZIP) and plain text. Null when the
 * content matches none of them: such a file is refused. A claimed type is never trusted alone.
 */

export type MediaFamily = 'image' | 'audio' | 'video' | 'document';

export interface Sniffed {
  mimeType: string;
  family: MediaFamily;
}

const ascii = (bytes: Uint8Array, at: number, text: string) => {
  if (bytes.length < at + text.length) return false;
  for (let i = 0; i < text.length; i++) if (bytes[at + i] !== text.charCodeAt(i)) return false;
  return true;
};
const startsWith = (bytes: Uint8Array, sig: number[], at = 0) =>
  bytes.length >= at + sig.length && sig.every((b, i) => bytes[at + i] === b);

/** Office Open XML (docx, xlsx, pptx) keep their main folder's name near the start of the ZIP. */
function zipType(bytes: Uint8Array, claimed: string | null): string {
  const head = new TextDecoder('latin1').decode(bytes.subarray(0, Math.min(bytes.length, 4096)));
  if (head.includes('word/'))
    return 'application/vnd.openxmlformats-officedocument.wordprocessingml.document';
  if (head.includes('xl/')) return 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet';
  if (head.includes('ppt/'))
    return 'application/vnd.openxmlformats-officedocument.presentationml.presentation';
  if (claimed?.startsWith('application/vnd.openxmlformats-officedocument.')) return claimed;
  return 'application/zip';
}

export function sniff(bytes: Uint8Array, claimed: string | null = null): Sniffed | null {
  if (startsWith(bytes, [0xff, 0xd8, 0xff])) return { mimeType: 'image/jpeg', family: 'image' };
  if (startsWith(bytes, [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))
    return { mimeType: 'image/png', family: 'image' };
  if (ascii(bytes, 0, 'GIF87a') || ascii(bytes, 0, 'GIF89a'))
    return { mimeType: 'image/gif', family: 'image' };
  if (ascii(bytes, 0, 'RIFF') && ascii(bytes, 8, 'WEBP')) return { mimeType: 'image/webp', family: 'image' };
  if (ascii(bytes, 0, 'RIFF') && ascii(bytes, 8, 'WAVE')) return { mimeType: 'audio/wav', family: 'audio' };
  if (ascii(bytes, 0, '%PDF-')) return { mimeType: 'application/pdf', family: 'document' };
  if (ascii(bytes, 0, 'OggS')) {
    const video = new TextDecoder('latin1').decode(bytes.subarray(0, 128)).includes('theora');
    return video ? { mimeType: 'video/ogg', family: 'video' } : { mimeType: 'audio/ogg', family: 'audio' };
  }
  if (ascii(bytes, 0, '#!AMR')) return { mimeType: 'audio/amr', family: 'audio' };
  if (ascii(bytes, 0, 'ID3')) return { mimeType: 'audio/mpeg', family: 'audio' };
  if (ascii(bytes, 4, 'ftyp')) {
    const brand = new TextDecoder('latin1').decode(bytes.subarray(8, 12));
    if (brand.startsWith('3gp') || brand.startsWith('3g2'))
      return { mimeType: 'video/3gpp', family: 'video' };
    if (brand === 'M4A ' || brand === 'M4B ') return { mimeType: 'audio/mp4', family: 'audio' };
    if (brand === 'qt  ') return { mimeType: 'video/quicktime', family: 'video' };
    if (brand === 'heic' || brand === 'heix' || brand === 'mif1')
      return { mimeType: 'image/heic', family: 'image' };
    return claimed?.startsWith('audio/')
      ? { mimeType: 'audio/mp4', family: 'audio' }
      : { mimeType: 'video/mp4', family: 'video' };
  }
  if (startsWith(bytes, [0x1a, 0x45, 0xdf, 0xa3])) return { mimeType: 'video/webm', family: 'video' };
  // MPEG audio frame sync (MP3 without a tag) and AAC in ADTS.
  if (bytes.length >= 2 && bytes[0] === 0xff && (bytes[1]! & 0xf6) === 0xf0)
    return { mimeType: 'audio/aac', family: 'audio' };
  if (bytes.length >= 2 && bytes[0] === 0xff && (bytes[1]! & 0xe0) === 0xe0)
    return { mimeType: 'audio/mpeg', family: 'audio' };
  if (startsWith(bytes, [0x50, 0x4b, 0x03, 0x04]))
    return { mimeType: zipType(bytes, claimed), family: 'document' };
  if (startsWith(bytes, [0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1])) {
    const legacy = ['application/msword', 'application/vnd.ms-excel', 'application/vnd.ms-powerpoint'];
    return {
      mimeType: claimed && legacy.includes(claimed) ? claimed : 'application/msword',
      family: 'document',
    };
  }
  if (claimed === 'text/plain' || claimed === 'text/csv') {
    const text = bytes.subarray(0, 4096);
    // Text: valid UTF-8 with no control characters besides tab, newline and carriage return.
    const ok = text.every((b) => b >= 0x20 || b === 0x09 || b === 0x0a || b === 0x0d);
    if (ok) {
      try {
        new TextDecoder('utf-8', { fatal: true }).decode(text);
        return { mimeType: claimed, family: 'document' };
      } catch {
        return null;
      }
    }
  }
  return null;
}

/** Whether a file of this content may be stored as a message of this kind. */
export function fitsKind(
  kind: 'image' | 'audio' | 'video' | 'document' | 'sticker',
  found: Sniffed,
): boolean {
  if (kind === 'document') return true;
  if (kind === 'sticker') return found.mimeType === 'image/webp' || found.family === 'image';
  return found.family === kind;
}

/** A file extension for a stored type (for names and `Content-Disposition`). */
export function extensionOf(mimeType: string): string {
  const known: Record<string, string> = {
    'image/jpeg': 'jpg',
    'image/png': 'png',
    'image/gif': 'gif',
    'image/webp': 'webp',
    'image/heic': 'heic',
    'audio/ogg': 'ogg',
    'audio/mpeg': 'mp3',
    'audio/aac': 'aac',
    'audio/amr': 'amr',
    'audio/wav': 'wav',
    'audio/mp4': 'm4a',
    'video/mp4': 'mp4',
    'video/3gpp': '3gp',
    'video/quicktime': 'mov',
    'video/webm': 'webm',
    'video/ogg': 'ogv',
    'application/pdf': 'pdf',
    'application/zip': 'zip',
    'application/msword': 'doc',
    'application/vnd.ms-excel': 'xls',
    'application/vnd.ms-powerpoint': 'ppt',
    'application/vnd.openxmlformats-officedocument.wordprocessingml.document': 'docx',
    'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet': 'xlsx',
    'application/vnd.openxmlformats-officedocument.presentationml.presentation': 'pptx',
    'text/plain': 'txt',
    'text/csv': 'csv',
  };
  return known[mimeType] ?? 'bin';
}
