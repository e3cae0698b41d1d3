import { createHash, randomBytes } from 'node:crypto';
import type { TApiKey, TCreatedKey, TCreateKeyInput, TRole } from '../contracts';
import * as q from '../db/queries/api-keys';
import type { Db } from '../db/types';
import { notFound } from '../errors';

/** Who is calling: an API key's holder, or the server itself (scripts, jobs). */
export interface Caller {
  kind: 'apiKey' | 'system';
  id: string;
  name: string;
  role: TRole;
}

export const systemCaller: Caller = { kind: 'system', id: 'system', name: 'system', role: 'admin' };

export interface AuthService {
  /** Resolves a bearer token to its caller, or null when it is unknown or revoked. */
  authenticate(token: string | null | undefined): Promise<Caller | null>;
  createKey(input: TCreateKeyInput): Promise<TCreatedKey>;
  listKeys(): Promise<TApiKey[]>;
  revokeKey(id: string): Promise<TApiKey>;
  /** Creates the first admin key when the database has none; returns it, or null when keys exist. */
  bootstrapAdminKey(): Promise<TCreatedKey | null>;
}

const KEY_PREFIX = 'wcb_';
const CACHE_TTL_MS = 10_000;
const TOUCH_INTERVAL_MS = 60_000;

export const hashKey = (key: string) => createHash('sha256').update(key).digest('hex');

export function createAuthService(deps: { db: Db }): AuthService {
  const { db } = deps;
  // A short cache keeps the key lookup off most requests; revoking through this process clears it.
  const cache = new Map<string, { caller: Caller | null; until: number }>();
  const touched = new Map<string, number>();

  async function createKey(input: TCreateKeyInput): Promise<TCreatedKey> {
    const key = KEY_PREFIX + randomBytes(24).toString('base64url');
    const row = await q.insertApiKey(db, {
      name: input.name,
      role: input.role,
      prefix: key.slice(0, 12),
      hash: hashKey(key),
    });
    return { ...row, key };
  }

  return {
    async authenticate(token) {
      if (!token?.startsWith(KEY_PREFIX) || token.length > 200) return null;
      const hash = hashKey(token);
      const now = Date.now();
      const hit = cache.get(hash);
      if (hit && hit.until > now) return hit.caller;
      const row = await q.findActiveKeyByHash(db, hash);
      const caller: Caller | null = row
        ? { kind: 'apiKey', id: row.id, name: row.name, role: row.role }
        : null;
      if (cache.size > 10_000) cache.clear();
      cache.set(hash, { caller, until: now + CACHE_TTL_MS });
      if (row && (touched.get(row.id) ?? 0) + TOUCH_INTERVAL_MS < now) {
        touched.set(row.id, now);
        await q.touchApiKey(db, row.id, new Date(now));
      }
      return caller;
    },
    createKey,
    listKeys: () => q.listApiKeys(db),
    async revokeKey(id) {
      const row = await q.revokeApiKey(db, id);
      cache.clear();
      if (row) return row;
      const existing = await q.findApiKey(db, id);
      if (!existing) throw notFound('API key', id);
      return existing;
    },
    async bootstrapAdminKey() {
      if ((await q.countApiKeys(db)) > 0) return null;
      return createKey({ name: 'bootstrap admin', role: 'admin' });
    },
  };
}
