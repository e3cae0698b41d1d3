import { createHash } from 'node:crypto';
import {
  createRemoteJWKSet,
  decodeProtectedHeader,
  type JWTPayload,
  type JWTVerifyOptions,
  errors as joseErrors,
  jwtVerify,
} from 'jose';
import * as q from '../db/queries/staff';
import type { Db } from '../db/types';
import { AppError, isUniqueViolation } from '../errors';
import type { StaffCaller } from './caller';

/**
 * Supabase Auth access tokens, verified locally: asymmetric keys from the project's JWKS
 * (`<SUPABASE_URL>/auth/v1/.well-known/jwks.json`) and/or the legacy shared secret (HS256). Each key
 * source accepts only its own algorithms, so an HS256 token is refused when no secret is configured
 * (a public key can never be used as an HMAC secret), and `alg: none` is refused always.
 *
 * A verified token names a Supabase user (`sub`); the staff table says who that is and what they may do.
 * The token's own `role` claim is never used for authorization.
 */
export interface StaffAuthOptions {
  /** The Supabase project URL; enables the JWKS and the issuer check. */
  supabaseUrl: string | undefined;
  /** The legacy JWT secret (HS256). */
  jwtSecret: string | undefined;
  /** Least time between two JWKS fetches caused by an unknown `kid` (jose's cooldown). */
  jwksCooldownMs: number;
}

export interface StaffAuthenticator {
  /** Verifies a token and resolves its person; throws an UNAUTHORIZED or FORBIDDEN AppError when refused. */
  authenticate(token: string): Promise<StaffCaller>;
  /** The caller of a token verified and resolved moments ago, without any I/O; undefined otherwise. */
  peek(token: string): StaffCaller | undefined;
  /** Forgets resolved people (after any staff change), so a deactivation applies at once. */
  forget(): void;
}

/** Algorithms the JWKS may sign with (Supabase signing keys: ECC P-256, RSA, Ed25519). */
const ASYMMETRIC_ALGS = ['ES256', 'RS256', 'EdDSA'];
const AUDIENCE = 'authenticated';
/** Three base64url parts (the last empty for an unsigned token), within a sane size. */
const JWT_SHAPE = /^[A-Za-z0-9_-]{2,4096}\.[A-Za-z0-9_-]{2,8192}\.[A-Za-z0-9_-]{0,1024}$/;
/** A resolved person is trusted from memory this long; a change through this process clears it. */
const PERSON_TTL_MS = 3_000;
/** Leeway for `exp` and `nbf`, in seconds. */
const CLOCK_SKEW_SECONDS = 30;
const CACHE_MAX = 10_000;
const TOUCH_INTERVAL_MS = 60_000;

export const looksLikeJwt = (token: string) => JWT_SHAPE.test(token);

export const supabaseIssuer = (supabaseUrl: string) => `${supabaseUrl.replace(/\/+$/, '')}/auth/v1`;

const unauthorized = (message: string) => new AppError('UNAUTHORIZED', message);
const forbidden = (message: string) => new AppError('FORBIDDEN', message);

export const NO_STAFF_ACCOUNT = 'No staff account for this sign-in';
export const DEACTIVATED = 'This staff account is deactivated';
export const EMAIL_NOT_VERIFIED =
  "This sign-in's email address is not verified: confirm it with Supabase Auth, then sign in again";

/** Supabase claims this server reads, besides the registered ones. */
interface SupabaseClaims extends JWTPayload {
  email?: unknown;
  email_verified?: unknown;
  is_anonymous?: unknown;
  user_metadata?: { email_verified?: unknown } | null;
}

/**
 * Whether the token vouches for its email: a top-level `email_verified: true` (a custom access token
 * hook, or `npm run staff:token`) or Supabase's `user_metadata.email_verified: true`.
 */
function emailVerified(claims: SupabaseClaims): boolean {
  if (claims.email_verified === true) return true;
  const meta = claims.user_metadata;
  return typeof meta === 'object' && meta !== null && meta.email_verified === true;
}

export function createStaffAuthenticator(deps: { db: Db } & StaffAuthOptions): StaffAuthenticator {
  const { db } = deps;
  const issuer = deps.supabaseUrl ? supabaseIssuer(deps.supabaseUrl) : undefined;
  const secret = deps.jwtSecret ? new TextEncoder().encode(deps.jwtSecret) : undefined;
  const jwks = deps.supabaseUrl
    ? createRemoteJWKSet(new URL(`${issuer}/.well-known/jwks.json`), {
        cooldownDuration: deps.jwksCooldownMs,
        timeoutDuration: 5_000,
      })
    : undefined;
  const common: JWTVerifyOptions = {
    audience: AUDIENCE,
    issuer,
    clockTolerance: CLOCK_SKEW_SECONDS,
    requiredClaims: ['exp', 'sub'],
  };

  // Verified tokens (by hash) until they expire: a signature cannot stop being valid. People by `sub`
  // for a few seconds only: deactivation must apply at once.
  const verified = new Map<string, { claims: SupabaseClaims; expMs: number }>();
  const people = new Map<string, { caller: StaffCaller; until: number }>();
  const touched = new Map<string, number>();

  function remember<V>(map: Map<string, V>, key: string, value: V) {
    map.delete(key);
    if (map.size >= CACHE_MAX) {
      const oldest = map.keys().next();
      if (!oldest.done) map.delete(oldest.value);
    }
    map.set(key, value);
  }

  async function verify(token: string): Promise<SupabaseClaims> {
    let alg: string | undefined;
    try {
      alg = decodeProtectedHeader(token).alg;
    } catch {
      throw unauthorized('The sign-in token is malformed');
    }
    try {
      if (alg === 'HS256' && secret) {
        return (await jwtVerify<SupabaseClaims>(token, secret, { ...common, algorithms: ['HS256'] })).payload;
      }
      if (alg && ASYMMETRIC_ALGS.includes(alg) && jwks) {
        return (await jwtVerify<SupabaseClaims>(token, jwks, { ...common, algorithms: ASYMMETRIC_ALGS }))
          .payload;
      }
    } catch (err) {
      if (err instanceof joseErrors.JWTExpired) throw unauthorized('The sign-in token has expired');
      if (err instanceof joseErrors.JWKSTimeout) throw err;
      if (err instanceof joseErrors.JOSEError) throw unauthorized('The sign-in token is not valid');
      // Anything else (the JWKS could not be fetched) is the server's problem, not the caller's.
      throw err;
    }
    throw unauthorized(`Sign-in tokens signed with ${alg ?? 'no algorithm'} are not accepted here`);
  }

  function callerOf(row: q.StaffRow): StaffCaller {
    return { kind: 'staff', id: row.id, name: row.displayName, role: row.role, email: row.email };
  }

  async function resolve(claims: SupabaseClaims, now: number): Promise<StaffCaller> {
    const sub = claims.sub as string;
    const cached = people.get(sub);
    if (cached && cached.until > now) return cached.caller;
    if (claims.is_anonymous === true) throw unauthorized(NO_STAFF_ACCOUNT);

    let row = await q.findStaffBySub(db, sub);
    if (!row) row = await link(claims, sub, now);
    if (!row.active) throw forbidden(DEACTIVATED);

    const caller = callerOf(row);
    remember(people, sub, { caller, until: now + PERSON_TTL_MS });
    if ((touched.get(row.id) ?? 0) + TOUCH_INTERVAL_MS < now) {
      if (touched.size >= CACHE_MAX) touched.clear();
      touched.set(row.id, now);
      await q.touchStaff(db, row.id, new Date(now));
    }
    return caller;
  }

  /** First sign-in of an invited person: the token's verified email matches an unlinked row. */
  async function link(claims: SupabaseClaims, sub: string, now: number): Promise<q.StaffRow> {
    const email = typeof claims.email === 'string' ? claims.email.trim().toLowerCase() : '';
    if (!email) throw unauthorized(NO_STAFF_ACCOUNT);
    const invited = await q.findUnlinkedStaffByEmail(db, email);
    if (!invited) throw unauthorized(NO_STAFF_ACCOUNT);
    if (!emailVerified(claims)) throw forbidden(EMAIL_NOT_VERIFIED);
    if (!invited.active) throw forbidden(DEACTIVATED);
    const linked = await q.linkStaff(db, invited.id, sub, new Date(now)).catch((err: unknown) => {
      if (isUniqueViolation(err)) return null;
      throw err;
    });
    // Two first calls at once: one links, the other finds the link.
    const row = linked ?? (await q.findStaffBySub(db, sub));
    if (!row) throw unauthorized(NO_STAFF_ACCOUNT);
    return row;
  }

  const hashOf = (token: string) => createHash('sha256').update(token).digest('base64url');

  return {
    async authenticate(token) {
      const now = Date.now();
      const hash = hashOf(token);
      const known = verified.get(hash);
      if (known && known.expMs > now) return resolve(known.claims, now);
      const claims = await verify(token);
      remember(verified, hash, { claims, expMs: (claims.exp as number) * 1000 });
      return resolve(claims, now);
    },
    peek(token) {
      const now = Date.now();
      const known = verified.get(hashOf(token));
      if (!known || known.expMs <= now) return undefined;
      const cached = people.get(known.claims.sub as string);
      return cached && cached.until > now ? cached.caller : undefined;
    },
    forget() {
      people.clear();
    },
  };
}
