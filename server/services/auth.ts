import { createHash, randomBytes } from 'node:crypto';
import type { TApiKey, TCreatedKey, TCreateKeyInput, TStreamTicket } from '../contracts';
import * as q from '../db/queries/api-keys';
import * as staffQueries from '../db/queries/staff';
import type { Db } from '../db/types';
import { AppError, badRequest, notFound } from '../errors';
import type { Caller } from './caller';
import { looksLikeJwt, type StaffAuthenticator } from './staff-auth';

export { type Caller, type KeyCaller, type StaffCaller, systemCaller } from './caller';

export interface AuthService {
  /**
   * Resolves a bearer token to its caller, or null when it is no known key. A sign-in token (a JWT)
   * that is refused throws an UNAUTHORIZED or FORBIDDEN AppError saying why.
   */
  authenticate(token: string | null | undefined): Promise<Caller | null>;
  /**
   * What is known about a token without asking the database: its caller (recently seen valid), null
   * (malformed, or recently seen unknown) or undefined (not known either way).
   */
  peek(token: string | null | undefined): Caller | null | undefined;
  createKey(input: TCreateKeyInput): Promise<TCreatedKey>;
  listKeys(): Promise<TApiKey[]>;
  revokeKey(id: string): Promise<TApiKey>;
  /** Creates the first admin key when the database has none; returns it, or null when keys exist. */
  bootstrapAdminKey(): Promise<TCreatedKey | null>;
  /** A single-use ticket that opens one subscription stream as `caller` within a minute. */
  issueStreamTicket(caller: Caller): Promise<TStreamTicket>;
  /**
   * Uses a stream ticket: its caller, with their key or staff account checked again, or null when the
   * ticket is unknown, used already, expired, or its caller lost access meanwhile.
   */
  redeemStreamTicket(ticket: string | null | undefined): Promise<Caller | null>;
  /** Forgets cached callers, so a change to keys or staff applies at once in this process. */
  forgetCallers(): void;
}

const KEY_PREFIX = 'wcb_';
/** Every key this server issues: the prefix and 24 random bytes in base64url. */
const KEY_SHAPE = /^wcb_[A-Za-z0-9_-]{32}$/;
/**
 * A valid key is trusted from memory this long. A revoke through this process clears the cache at once;
 * one made by another process (a script, another server on the same database) takes effect within it.
 */
const CACHE_TTL_MS = 3_000;
const CACHE_MAX = 10_000;
/** Unknown keys are remembered this long, so guessing the same key again costs no lookup. */
const NEGATIVE_TTL_MS = 30_000;
/** At most this many unknown keys are remembered; the oldest make room for new ones. */
const NEGATIVE_MAX = 10_000;
const TOUCH_INTERVAL_MS = 60_000;

export const hashKey = (key: string) => createHash('sha256').update(key).digest('hex');

const TICKET_PREFIX = 'wst_';
const TICKET_SHAPE = /^wst_[A-Za-z0-9_-]{43}$/;
const TICKET_TTL_MS = 60_000;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const SIGN_IN_NOT_CONFIGURED =
  'Sign-in tokens are not accepted: the server has neither SUPABASE_URL nor SUPABASE_JWT_SECRET';

export function createAuthService(deps: { db: Db; staff?: StaffAuthenticator }): AuthService {
  const { db, staff } = deps;
  // Short caches keep the key lookup off most requests; revoking through this process clears them.
  // Valid and unknown keys are cached apart, so a flood of guessed keys cannot push valid ones out.
  const valid = new Map<string, { caller: Caller; until: number }>();
  const unknown = new Map<string, number>();
  const touched = new Map<string, number>();

  function remember<V>(map: Map<string, V>, hash: string, value: V, max: number) {
    map.delete(hash);
    while (map.size >= max) {
      const oldest = map.keys().next();
      if (oldest.done) break;
      map.delete(oldest.value);
    }
    map.set(hash, value);
  }

  function peekHash(
    token: string | null | undefined,
    now: number,
  ): [string | null, Caller | null | undefined] {
    if (!token || !KEY_SHAPE.test(token)) return [null, null];
    const hash = hashKey(token);
    const hit = valid.get(hash);
    if (hit && hit.until > now) return [hash, hit.caller];
    const miss = unknown.get(hash);
    if (miss !== undefined && miss > now) return [hash, null];
    return [hash, undefined];
  }

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
      // A JWT is a staff sign-in: it never reaches the key lookup (or its negative cache).
      if (token && looksLikeJwt(token)) {
        if (!staff) throw new AppError('UNAUTHORIZED', SIGN_IN_NOT_CONFIGURED);
        return staff.authenticate(token);
      }
      const now = Date.now();
      const [hash, known] = peekHash(token, now);
      if (known !== undefined || hash === null) return known ?? null;
      const row = await q.findActiveKeyByHash(db, hash);
      if (!row) {
        remember(unknown, hash, now + NEGATIVE_TTL_MS, NEGATIVE_MAX);
        return null;
      }
      const caller: Caller = { kind: 'apiKey', id: row.id, name: row.name, role: row.role };
      remember(valid, hash, { caller, until: now + CACHE_TTL_MS }, CACHE_MAX);
      if ((touched.get(row.id) ?? 0) + TOUCH_INTERVAL_MS < now) {
        if (touched.size >= CACHE_MAX) touched.clear();
        touched.set(row.id, now);
        await q.touchApiKey(db, row.id, new Date(now));
      }
      return caller;
    },
    peek: (token) => {
      if (token && looksLikeJwt(token)) return staff?.peek(token);
      return peekHash(token, Date.now())[1];
    },
    createKey,
    listKeys: () => q.listApiKeys(db),
    async revokeKey(id) {
      const row = await q.revokeApiKey(db, id);
      valid.clear();
      if (row) return row;
      const existing = await q.findApiKey(db, id);
      if (!existing) throw notFound('API key', id);
      return existing;
    },
    async bootstrapAdminKey() {
      if ((await q.countApiKeys(db)) > 0) return null;
      return createKey({ name: 'bootstrap admin', role: 'admin' });
    },
    async issueStreamTicket(caller) {
      if (caller.kind === 'system') throw badRequest('The server itself needs no stream ticket');
      const ticket = TICKET_PREFIX + randomBytes(32).toString('base64url');
      const now = new Date();
      const expiresAt = new Date(now.getTime() + TICKET_TTL_MS);
      await staffQueries.deleteExpiredStreamTickets(db, now);
      await staffQueries.insertStreamTicket(db, {
        hash: hashKey(ticket),
        callerKind: caller.kind,
        callerId: caller.id,
        expiresAt,
      });
      return { ticket, expiresAt };
    },
    async redeemStreamTicket(ticket) {
      if (!ticket || !TICKET_SHAPE.test(ticket)) return null;
      const row = await staffQueries.takeStreamTicket(db, hashKey(ticket), new Date());
      if (!row || !UUID.test(row.callerId)) return null;
      if (row.callerKind === 'apiKey') {
        const key = await q.findApiKey(db, row.callerId);
        return key && !key.revokedAt ? { kind: 'apiKey', id: key.id, name: key.name, role: key.role } : null;
      }
      const person = await staffQueries.findStaffById(db, row.callerId);
      if (!person?.active || !person.sub) return null;
      return {
        kind: 'staff',
        id: person.id,
        name: person.displayName,
        role: person.role,
        email: person.email,
      };
    },
    forgetCallers() {
      valid.clear();
      staff?.forget();
    },
  };
}
