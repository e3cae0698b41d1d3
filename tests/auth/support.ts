import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { exportJWK, generateKeyPair, type JWK, SignJWT } from 'jose';
import { listenOnLoopback, sendJson } from '../fakes/http';

/**
 * Supabase Auth stand-ins for tests: a JWKS server on 127.0.0.1 (keys can be added while it runs, as a
 * project rotating its signing keys does) and a signer producing Supabase's access-token claims.
 */

export interface SigningKey {
  kid: string;
  alg: 'ES256' | 'RS256';
  privateKey: Awaited<ReturnType<typeof generateKeyPair>>['privateKey'];
  publicJwk: JWK;
}

export async function newSigningKey(alg: 'ES256' | 'RS256', kid: string = randomUUID()): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const publicJwk = { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' };
  return { kid, alg, privateKey, publicJwk };
}

export interface JwksServer {
  /** The stand-in project URL (its JWKS is at `<url>/auth/v1/.well-known/jwks.json`). */
  url: string;
  /** Keys published now; push to rotate. */
  keys: SigningKey[];
  /** How many times the JWKS was fetched. */
  fetches(): number;
  close(): Promise<void>;
}

export async function startJwksServer(keys: SigningKey[]): Promise<JwksServer> {
  let fetches = 0;
  const published = [...keys];
  const server: Server = createServer((req, res) => {
    if (req.url === '/auth/v1/.well-known/jwks.json') {
      fetches++;
      sendJson(res, 200, { keys: published.map((k) => k.publicJwk) });
      return;
    }
    sendJson(res, 404, { error: 'not found' });
  });
  const port = await listenOnLoopback(server);
  return {
    url: `http://127.0.0.1:${port}`,
    keys: published,
    fetches: () => fetches,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export interface TokenClaims {
  sub?: string;
  email?: string;
  /** Supabase's `user_metadata.email_verified`. */
  verified?: boolean;
  iss?: string;
  aud?: string;
  /** Seconds from now (negative: in the past). */
  expIn?: number;
  nbfIn?: number;
  extra?: Record<string, unknown>;
}

function payload(c: TokenClaims) {
  return {
    email: c.email,
    role: 'authenticated',
    user_metadata: c.verified === undefined ? {} : { email_verified: c.verified },
    is_anonymous: false,
    ...c.extra,
  };
}

function build(c: TokenClaims, issuer: string) {
  const now = Math.floor(Date.now() / 1000);
  const jwt = new SignJWT(payload(c))
    .setSubject(c.sub ?? randomUUID())
    .setIssuer(c.iss ?? issuer)
    .setAudience(c.aud ?? 'authenticated')
    .setIssuedAt(now)
    .setExpirationTime(now + (c.expIn ?? 3600));
  if (c.nbfIn !== undefined) jwt.setNotBefore(now + c.nbfIn);
  return jwt;
}

/** A token signed with an asymmetric key, as a Supabase project with signing keys issues. */
export function signWithKey(key: SigningKey, projectUrl: string, c: TokenClaims = {}): Promise<string> {
  return build(c, `${projectUrl}/auth/v1`)
    .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: 'JWT' })
    .sign(key.privateKey);
}

/** A token signed with the legacy shared secret (HS256). */
export function signWithSecret(secret: string, issuer: string, c: TokenClaims = {}): Promise<string> {
  return build(c, issuer)
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .sign(new TextEncoder().encode(secret));
}

/** An unsigned token (`alg: none`). */
export function unsignedToken(issuer: string, c: TokenClaims = {}): string {
  const now = Math.floor(Date.now() / 1000);
  const enc = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const body = {
    ...payload(c),
    sub: c.sub ?? randomUUID(),
    iss: c.iss ?? issuer,
    aud: 'authenticated',
    exp: now + 3600,
  };
  return `${enc({ alg: 'none', typ: 'JWT' })}.${enc(body)}.`;
}
