import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { chmod, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { AwsClient } from 'aws4fetch';

/**
 * Where media files live: a local folder (the default) or an S3-compatible bucket (Supabase Storage's
 * S3 endpoint, signed with SigV4 by aws4fetch). Keys are server-made (`yyyy/mm/<uuid>.<ext>`), never
 * a customer's file name.
 */
export interface MediaStore {
  readonly kind: 'local' | 's3';
  put(key: string, bytes: Uint8Array, mimeType: string): Promise<void>;
  /** The file's bytes, or null when the store has no such key. */
  get(key: string): Promise<Uint8Array | null>;
}

const SAFE_KEY = /^[a-z0-9][a-z0-9/_.-]{0,200}$/i;

function checkKey(key: string) {
  if (!SAFE_KEY.test(key) || key.includes('..')) throw new Error('invalid media storage key');
}

export function createLocalMediaStore(dir: string): MediaStore {
  return {
    kind: 'local',
    async put(key, bytes) {
      checkKey(key);
      const file = path.join(dir, key);
      await mkdir(path.dirname(file), { recursive: true });
      // Written under a temporary name, then renamed: a reader never sees half a file.
      const tmp = `${file}.${randomBytes(4).toString('hex')}.tmp`;
      await writeFile(tmp, bytes);
      await rename(tmp, file);
    },
    async get(key) {
      checkKey(key);
      try {
        return new Uint8Array(await readFile(path.join(dir, key)));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
        throw err;
      }
    },
  };
}

export interface S3Options {
  endpoint: string;
  bucket: string;
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
  fetch?: typeof fetch;
  timeoutMs?: number;
}

/** Path-style requests (`<endpoint>/<bucket>/<key>`), as Supabase Storage and MinIO take them. */
export function createS3MediaStore(opts: S3Options): MediaStore {
  const aws = new AwsClient({
    accessKeyId: opts.accessKeyId,
    secretAccessKey: opts.secretAccessKey,
    region: opts.region,
    service: 's3',
    retries: 0,
  });
  const fetchImpl = opts.fetch ?? globalThis.fetch;
  const timeoutMs = opts.timeoutMs ?? 60_000;
  const urlOf = (key: string) =>
    `${opts.endpoint}/${encodeURIComponent(opts.bucket)}/${key.split('/').map(encodeURIComponent).join('/')}`;
  const failed = (what: string, status: number) =>
    new Error(`media bucket: ${what} failed with HTTP ${status}`);
  return {
    kind: 's3',
    async put(key, bytes, mimeType) {
      checkKey(key);
      const req = await aws.sign(urlOf(key), {
        method: 'PUT',
        headers: { 'content-type': mimeType },
        body: bytes,
      });
      const res = await fetchImpl(req, { signal: AbortSignal.timeout(timeoutMs) });
      await res.arrayBuffer().catch(() => null);
      if (!res.ok) throw failed('upload', res.status);
    },
    async get(key) {
      checkKey(key);
      const req = await aws.sign(urlOf(key), { method: 'GET' });
      const res = await fetchImpl(req, { signal: AbortSignal.timeout(timeoutMs) });
      if (res.status === 404) {
        await res.arrayBuffer().catch(() => null);
        return null;
      }
      if (!res.ok) {
        await res.arrayBuffer().catch(() => null);
        throw failed('download', res.status);
      }
      return new Uint8Array(await res.arrayBuffer());
    },
  };
}

/**
 * The key of signed media links: MEDIA_SIGNING_SECRET, else a random key made once and kept in
 * `<dataDir>/media-signing.key` (so links survive a restart; processes on other machines need the
 * variable), else (an in-memory database) a random key for this process.
 */
export async function mediaSigningKey(secret: string | undefined, dataDir: string): Promise<string> {
  if (secret) return secret;
  if (dataDir === 'memory://') return randomBytes(32).toString('base64url');
  const file = path.join(dataDir, 'media-signing.key');
  try {
    const existing = (await readFile(file, 'utf8')).trim();
    if (existing.length >= 32) return existing;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  await mkdir(dataDir, { recursive: true });
  const made = randomBytes(32).toString('base64url');
  try {
    await writeFile(file, made, { flag: 'wx', mode: 0o600 });
    await chmod(file, 0o600);
    return made;
  } catch (err) {
    // Another process made it first: use theirs.
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return (await readFile(file, 'utf8')).trim();
    throw err;
  }
}

/** Signs and checks media links `/media/<id>?exp=<unix seconds>&sig=<HMAC-SHA256, base64url>`. */
export interface MediaLinks {
  /** The path and query of a link to a media row valid for `ttlSeconds` from `now`. */
  path(mediaId: string, opts?: { ttlSeconds?: number; now?: number }): string;
  /** The absolute public link (PUBLIC_BASE_URL), or null when no public address is configured. */
  publicUrl(mediaId: string, opts?: { ttlSeconds?: number; now?: number }): string | null;
  /** 'ok', 'expired' or 'invalid' (a signature that does not match, or a malformed expiry). */
  check(
    mediaId: string,
    exp: string | undefined,
    sig: string | undefined,
    now?: number,
  ): 'ok' | 'expired' | 'invalid';
  readonly ttlSeconds: number;
}

export function createMediaLinks(opts: {
  key: string;
  ttlSeconds: number;
  publicBaseUrl: string | undefined;
}): MediaLinks {
  const mac = (mediaId: string, exp: number) =>
    createHmac('sha256', opts.key).update(`media:${mediaId}:${exp}`).digest('base64url');
  const build = (mediaId: string, o: { ttlSeconds?: number; now?: number } = {}) => {
    const exp = Math.floor((o.now ?? Date.now()) / 1000) + (o.ttlSeconds ?? opts.ttlSeconds);
    return `/media/${encodeURIComponent(mediaId)}?exp=${exp}&sig=${mac(mediaId, exp)}`;
  };
  return {
    ttlSeconds: opts.ttlSeconds,
    path: build,
    publicUrl: (mediaId, o) => (opts.publicBaseUrl ? `${opts.publicBaseUrl}${build(mediaId, o)}` : null),
    check(mediaId, exp, sig, now = Date.now()) {
      if (!exp || !sig || !/^\d{1,12}$/.test(exp) || !/^[A-Za-z0-9_-]{43}$/.test(sig)) return 'invalid';
      const expected = Buffer.from(mac(mediaId, Number(exp)));
      const given = Buffer.from(sig);
      if (given.length !== expected.length || !timingSafeEqual(given, expected)) return 'invalid';
      return Number(exp) * 1000 < now ? 'expired' : 'ok';
    },
  };
}
