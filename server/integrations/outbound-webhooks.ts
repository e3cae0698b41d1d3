import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import http from 'node:http';
import https from 'node:https';
import { BlockList, isIP } from 'node:net';

/**
 * The HTTP side of outbound webhooks: one POST, no redirects followed, a bounded answer, a timeout,
 * and no destination on a private, loopback or link-local address unless allowed. Names are checked
 * when the connection is made (the address checked is the address connected to), so a name that
 * resolves to a public address when the subscription is saved and to 127.0.0.1 later is refused.
 */

const blockedV4 = new BlockList();
for (const [net, bits] of [
  ['0.0.0.0', 8], // "this network"
  ['10.0.0.0', 8],
  ['100.64.0.0', 10], // carrier-grade NAT
  ['127.0.0.0', 8],
  ['169.254.0.0', 16], // link-local, cloud metadata
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.0.2.0', 24],
  ['192.88.99.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['198.51.100.0', 24],
  ['203.0.113.0', 24],
  ['224.0.0.0', 4], // multicast
  ['240.0.0.0', 4], // reserved, broadcast
] as const)
  blockedV4.addSubnet(net, bits, 'ipv4');

const blockedV6 = new BlockList();
for (const [net, bits] of [
  ['::', 128], // unspecified
  ['::1', 128], // loopback
  ['100::', 64], // discard
  ['2001:db8::', 32], // documentation
  ['fc00::', 7], // unique local
  ['fe80::', 10], // link-local
  ['fec0::', 10], // site-local (deprecated)
  ['ff00::', 8], // multicast
] as const)
  blockedV6.addSubnet(net, bits, 'ipv6');

/** The IPv4 address an IPv6 address carries (mapped, compatible, NAT64, 6to4), if any. */
function embeddedV4(ip: string): string | null {
  const groups = expandV6(ip);
  if (!groups) return null;
  const v4 = (hi: number, lo: number) => `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;
  const zeros = (from: number, to: number) => groups.slice(from, to).every((g) => g === 0);
  // ::ffff:a.b.c.d (mapped) and ::a.b.c.d (compatible, deprecated)
  if (zeros(0, 5) && (groups[5] === 0xffff || groups[5] === 0)) return v4(groups[6]!, groups[7]!);
  // 64:ff9b::a.b.c.d and 64:ff9b:1::/48 (NAT64)
  if (groups[0] === 0x64 && groups[1] === 0xff9b) return v4(groups[6]!, groups[7]!);
  // 2002:aabb:ccdd::/16 (6to4)
  if (groups[0] === 0x2002) return v4(groups[1]!, groups[2]!);
  return null;
}

function expandV6(ip: string): number[] | null {
  let s = ip.split('%')[0]!.toLowerCase();
  const dotted = s.match(/(\d+\.\d+\.\d+\.\d+)$/);
  if (dotted) {
    const parts = dotted[1]!.split('.').map(Number);
    s = `${s.slice(0, -dotted[1]!.length)}${((parts[0]! << 8) | parts[1]!).toString(16)}:${((parts[2]! << 8) | parts[3]!).toString(16)}`;
  }
  const [head, tail] = s.split('::') as [string, string | undefined];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const fill = s.includes('::') ? 8 - h.length - t.length : 0;
  const all = [...h, ...Array(Math.max(0, fill)).fill('0'), ...t];
  if (all.length !== 8) return null;
  return all.map((g) => Number.parseInt(g, 16));
}

/** True for addresses a webhook must not reach by default (private, loopback, link-local, reserved). */
export function isForbiddenAddress(ip: string): boolean {
  const family = isIP(ip);
  if (family === 4) return blockedV4.check(ip, 'ipv4');
  if (family === 6) {
    const v4 = embeddedV4(ip);
    if (v4 && isIP(v4) === 4 && blockedV4.check(v4, 'ipv4')) return true;
    return blockedV6.check(ip.split('%')[0]!, 'ipv6');
  }
  return true;
}

export class DestinationRefused extends Error {
  override name = 'DestinationRefused';
}

/** The URL's host as an address when it is an IP literal (IPv6 without brackets), else null. */
function literalHost(url: URL): string | null {
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  return isIP(host) ? host : null;
}

function resolveAll(hostname: string): Promise<LookupAddress[]> {
  return new Promise((resolve, reject) =>
    dnsLookup(hostname, { all: true, verbatim: true }, (err, addresses) =>
      err ? reject(err) : resolve(addresses),
    ),
  );
}

/**
 * Checks a destination before it is saved (the same check runs again at each connection): refuses
 * private addresses and names resolving to one. A name that does not resolve now is accepted.
 */
export async function checkDestination(rawUrl: string, allowPrivate: boolean): Promise<string | null> {
  if (allowPrivate) return null;
  const url = new URL(rawUrl);
  const literal = literalHost(url);
  if (literal) return isForbiddenAddress(literal) ? `${literal} is a private or local address` : null;
  if (url.hostname === 'localhost' || url.hostname.endsWith('.localhost'))
    return `${url.hostname} is a local name`;
  const addresses = await resolveAll(url.hostname).catch(() => []);
  const bad = addresses.find((a) => isForbiddenAddress(a.address));
  return bad ? `${url.hostname} resolves to ${bad.address}, a private or local address` : null;
}

type LookupCallback = (
  err: NodeJS.ErrnoException | null,
  address: string | LookupAddress[],
  family?: number,
) => void;

/** A `lookup` for http.request that refuses private answers: the check happens at connect time. */
function guardedLookup(hostname: string, options: { all?: boolean }, callback: LookupCallback) {
  dnsLookup(hostname, { all: true, verbatim: true }, (err, addresses) => {
    if (err) return callback(err, []);
    const bad = addresses.find((a) => isForbiddenAddress(a.address));
    if (bad || !addresses.length) {
      const e = new DestinationRefused(
        bad
          ? `${hostname} resolves to ${bad.address}, a private or local address`
          : `${hostname} has no address`,
      ) as NodeJS.ErrnoException;
      e.code = 'EDESTREFUSED';
      return callback(e, []);
    }
    if (options.all) return callback(null, addresses);
    return callback(null, addresses[0]!.address, addresses[0]!.family);
  });
}

export interface PostResult {
  /** The HTTP status, or null when no answer came (refused, timeout, network error). */
  status: number | null;
  durationMs: number;
  /** The start of the answer's body, at most `excerptChars` characters, safe to store. */
  excerpt: string | null;
  error: string | null;
}

export interface PostOptions {
  url: string;
  body: string;
  headers: Record<string, string>;
  timeoutMs: number;
  allowPrivate: boolean;
  /** The most of an answer's body that is read (the rest is dropped). */
  maxResponseBytes?: number;
  excerptChars?: number;
}

/** Text a Postgres text column accepts: no NUL, no lone surrogates. */
export function storableText(s: string, max: number): string {
  let end = Math.min(s.length, max);
  if (end < s.length && /[\uD800-\uDBFF]/.test(s.charAt(end - 1))) end--;
  return s.slice(0, end).replaceAll('\u0000', '').replace(LONE_SURROGATES, '\uFFFD');
}

const LONE_SURROGATES = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/** POSTs once. Never throws: every failure is described in the result. */
export async function postWebhook(o: PostOptions): Promise<PostResult> {
  const started = performance.now();
  const maxBytes = o.maxResponseBytes ?? 64 * 1024;
  const excerptChars = o.excerptChars ?? 1000;
  const done = (r: Omit<PostResult, 'durationMs'>): PostResult => ({
    ...r,
    durationMs: Math.max(0, Math.round(performance.now() - started)),
  });
  let url: URL;
  try {
    url = new URL(o.url);
  } catch {
    return done({ status: null, excerpt: null, error: 'invalid URL' });
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    return done({ status: null, excerpt: null, error: 'only http and https are allowed' });
  const literal = literalHost(url);
  if (!o.allowPrivate && literal && isForbiddenAddress(literal))
    return done({ status: null, excerpt: null, error: `refused: ${literal} is a private or local address` });

  return new Promise<PostResult>((resolve) => {
    let settled = false;
    const finish = (r: Omit<PostResult, 'durationMs'>) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(done(r));
    };
    const client = url.protocol === 'https:' ? https : http;
    const req = client.request(url, {
      method: 'POST',
      agent: false,
      headers: {
        ...o.headers,
        'content-type': 'application/json',
        'content-length': String(Buffer.byteLength(o.body)),
        'user-agent': 'whatsapp-crm-webhooks/1',
      },
      ...(o.allowPrivate ? {} : { lookup: guardedLookup as never }),
    });
    const timer = setTimeout(() => {
      req.destroy(new Error(`no answer within ${o.timeoutMs} ms`));
    }, o.timeoutMs);
    req.on('error', (err: NodeJS.ErrnoException) => {
      const refused = err instanceof DestinationRefused || err.code === 'EDESTREFUSED';
      finish({
        status: null,
        excerpt: null,
        error: storableText(refused ? `refused: ${err.message}` : err.message || String(err), 500),
      });
    });
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      const end = () => {
        const text = Buffer.concat(chunks).subarray(0, maxBytes).toString('utf8');
        const status = res.statusCode ?? null;
        // Redirects are not followed: a 3xx is a failed delivery like any other non-2xx.
        finish({
          status,
          excerpt: text ? storableText(text, excerptChars) : null,
          error: status !== null && status >= 200 && status < 300 ? null : `HTTP ${status}`,
        });
        res.destroy();
      };
      res.on('data', (c: Buffer) => {
        size += c.length;
        chunks.push(c);
        if (size >= maxBytes) end();
      });
      res.on('end', end);
      res.on('error', end);
      res.on('close', end);
    });
    req.end(o.body);
  });
}
