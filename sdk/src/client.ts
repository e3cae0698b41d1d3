import {
  createTRPCClient,
  httpBatchLink,
  httpBatchStreamLink,
  httpLink,
  httpSubscriptionLink,
  splitLink,
  type TRPCClient,
  type TRPCLink,
} from '@trpc/client';
import { observable } from '@trpc/server/observable';
import superjson from 'superjson';
import { retryAfterMs } from './errors';
import { ticketEventSource } from './stream-ticket';
import type { AppRouter } from './types';
import { API_VERSION, API_VERSION_HEADER, isCompatibleApiVersion } from './version';

/** The typed client: `client.<router>.<procedure>.query(input)`, `.mutate(input)` or `.subscribe(input, handlers)`. */
export type Client = TRPCClient<AppRouter>;

/** Returns the current API key or token; called before every request and every (re)connection. */
export type TokenSource = () => string | null | undefined | Promise<string | null | undefined>;

/** A `fetch` implementation: the global one, or a wrapper around it. */
export type FetchLike = (input: string | URL, init?: RequestInit) => Promise<Response>;

/** Any EventSource class: the browser's own, or a ponyfill such as the `eventsource` package. */
export type EventSourceConstructor = new (
  url: string,
  init?: never,
) => {
  readonly readyState: number;
  close(): void;
};

export type HeaderSource =
  | Record<string, string>
  | (() => Record<string, string> | Promise<Record<string, string>>);

interface CommonOptions {
  /** The API's tRPC endpoint, such as `https://crm.example.com/trpc`. */
  url: string;
  /** The `fetch` used for queries, mutations and a ponyfilled EventSource. Defaults to the global one. */
  fetch?: FetchLike;
  /**
   * The EventSource class for subscriptions. Browsers have one; Node 20 does not, so pass the `eventsource`
   * package's class there. A ponyfill also carries the auth header, which the browser's own cannot send.
   */
  EventSource?: EventSourceConstructor;
  /** Extra headers sent with every request (and with subscriptions when an EventSource ponyfill is used). */
  headers?: HeaderSource;
  /** Most calls sent in one HTTP request; the server refuses batches above its own limit (20 by default). */
  maxBatchSize?: number;
  /** Longest URL a batch of queries may use before it is split into more requests. */
  maxURLLength?: number;
  /**
   * How queries and mutations travel:
   * - `batchTransport` (default): calls made together share one HTTP request, answered when all are
   *   done. The HTTP status is real: the error's status when every call failed alike, 207 when results
   *   differ.
   * - `streamTransport`: a shared request whose results stream back as each call finishes; the status
   *   is always 200 and errors are only in the body.
   * - `singleTransport`: one HTTP request per call, each with its own status.
   * They are functions rather than names so that a bundle carries only the transport it uses.
   */
  transport?: Transport;
  /**
   * Queries the server refused with `TOO_MANY_REQUESTS` and a `Retry-After` are sent again after that
   * delay, at most `maxRetries` times (default 2), and only while the delay is at most `maxDelayMs`
   * (default 60 000); a longer wait fails at once. Mutations are never retried. `false` turns it off.
   */
  rateLimitRetry?: RateLimitRetryOptions | false;
  /**
   * Called once per server version whose major differs from the one this package speaks
   * (`API_VERSION`), read from the `x-api-version` header of the server's answers. By default a
   * `console.warn`, once per version.
   */
  onVersionMismatch?: (mismatch: VersionMismatch) => void;
  /**
   * The client's links, for teams that compose their own (a logger, their own retry). Either a list
   * that replaces the defaults, or a function given the default links (built from these options) that
   * returns the list to use: `links: (defaults) => [loggerLink(), ...defaults]`.
   */
  links?: TRPCLink<AppRouter>[] | ((defaults: TRPCLink<AppRouter>[]) => TRPCLink<AppRouter>[]);
}

export interface RateLimitRetryOptions {
  /** Retries of one query after the first refusal. Default 2. */
  maxRetries?: number;
  /** Longest `Retry-After` waited for, in milliseconds. Default 60 000. */
  maxDelayMs?: number;
}

export interface VersionMismatch {
  /** The API version the server reported. */
  server: string;
  /** The API version this package speaks. */
  client: string;
}

/** Credentials: a fixed API key, a function returning the current token, or none (public procedures only). */
export type ClientAuth =
  | { apiKey: string; getToken?: never }
  | { getToken: TokenSource; apiKey?: never }
  | { apiKey?: never; getToken?: never };

export type ClientOptions = CommonOptions & ClientAuth;

export const DEFAULT_MAX_BATCH_SIZE = 10;
export const DEFAULT_MAX_URL_LENGTH = 4000;
export const DEFAULT_RATE_LIMIT_RETRIES = 2;
export const DEFAULT_RATE_LIMIT_MAX_DELAY_MS = 60_000;

type TrpcFetch = NonNullable<Parameters<typeof httpBatchLink>[0]['fetch']>;

/** What a transport gets to build its link: the HTTP options, and the batch limits for batching ones. */
export interface TransportOptions {
  http: Parameters<typeof httpLink<AppRouter>>[0];
  batch: Parameters<typeof httpBatchLink<AppRouter>>[0];
}

/** Builds the link that carries queries and mutations (see `ClientOptions.transport`). */
export type Transport = (options: TransportOptions) => TRPCLink<AppRouter>;

/** Calls made together share one request; real HTTP statuses (207 for mixed results). The default. */
export const batchTransport: Transport = ({ batch }) => httpBatchLink<AppRouter>(batch);
/** Calls made together share one request whose results stream back as each finishes; always HTTP 200. */
export const streamTransport: Transport = ({ batch }) => httpBatchStreamLink<AppRouter>(batch);
/** One request per call, each with its own HTTP status. */
export const singleTransport: Transport = ({ http }) => httpLink<AppRouter>(http);
type TrpcEventSource = NonNullable<Parameters<typeof httpSubscriptionLink>[0]['EventSource']>;

/**
 * Creates the typed API client. Queries and mutations travel in batched HTTP requests (superjson-encoded,
 * with the HTTP status of their result); subscriptions travel over Server-Sent Events and resume from the
 * last event they saw after a reconnect.
 */
export function createClient(options: ClientOptions): Client {
  const defaults = createDefaultLinks(options);
  const links = typeof options.links === 'function' ? options.links(defaults) : (options.links ?? defaults);
  return createTRPCClient<AppRouter>({ links });
}

/**
 * The links `createClient` uses unless told otherwise: the rate-limit retry for queries, then queries
 * and mutations over HTTP (per `transport`) and subscriptions over Server-Sent Events, all with the
 * credentials, headers and version check of `options`. Wrap or extend them to compose your own.
 */
export function createDefaultLinks(options: ClientOptions): TRPCLink<AppRouter>[] {
  const { url } = options;
  const token = tokenSource(options);
  const baseFetch = versionCheckingFetch(options.fetch, options.onVersionMismatch ?? warnVersionMismatch);

  const requestHeaders = async (): Promise<Record<string, string>> => {
    const extra = typeof options.headers === 'function' ? await options.headers() : (options.headers ?? {});
    const value = await token();
    return value ? { ...extra, authorization: `Bearer ${value}` } : { ...extra };
  };

  const ponyfill = options.EventSource;
  const subscriptions = ponyfill
    ? httpSubscriptionLink<AppRouter, TrpcEventSource>({
        url,
        transformer: superjson,
        EventSource: ponyfill as unknown as TrpcEventSource,
        // A ponyfill fetches the stream itself, so the auth header rides on its fetch. Called again on
        // every reconnect, so a refreshed token is picked up.
        eventSourceOptions: async () => {
          const headers = await requestHeaders();
          return {
            headers,
            fetch: (input: string | URL, init?: RequestInit) => {
              const merged = new Headers(init?.headers);
              for (const [name, value] of Object.entries(headers)) merged.set(name, value);
              return baseFetch(input, { ...init, headers: merged });
            },
          } as never;
        },
      })
    : httpSubscriptionLink<AppRouter, TrpcEventSource>({
        url,
        transformer: superjson,
        // The browser's EventSource cannot send headers, and its URL is no place for a credential: each
        // connection carries a fresh single-use stream ticket instead (see `stream-ticket.ts`).
        EventSource: ticketEventSource(nativeEventSource() as never, async () => {
          if (!(await token())) return null;
          return (await ticketClient().staff.streamTicket.mutate()).ticket;
        }) as unknown as TrpcEventSource,
      });

  const http = {
    url,
    transformer: superjson,
    headers: requestHeaders,
    fetch: baseFetch as unknown as TrpcFetch,
  };
  // Stream tickets are asked for with the credentials in a header, one plain request each.
  let tickets: Client | undefined;
  const ticketClient = () => {
    tickets ??= createTRPCClient<AppRouter>({ links: [httpLink<AppRouter>(http)] });
    return tickets;
  };
  const batch = {
    ...http,
    maxItems: Math.max(1, Math.floor(options.maxBatchSize ?? DEFAULT_MAX_BATCH_SIZE)),
    maxURLLength: options.maxURLLength ?? DEFAULT_MAX_URL_LENGTH,
  };
  const requests = (options.transport ?? batchTransport)({ http, batch });

  const links: TRPCLink<AppRouter>[] = [];
  if (options.rateLimitRetry !== false) links.push(rateLimitRetryLink(options.rateLimitRetry ?? {}));
  links.push(
    splitLink({ condition: (op) => op.type === 'subscription', true: subscriptions, false: requests }),
  );
  return links;
}

/**
 * Sends a query again when the server refused it with `TOO_MANY_REQUESTS` and said when to come back
 * (`Retry-After`): after that delay, at most `maxRetries` times, and only for delays up to `maxDelayMs`.
 * Mutations and subscriptions pass through untouched: a refused mutation fails at once, so nothing is
 * ever done twice behind the caller's back.
 */
export function rateLimitRetryLink(opts: RateLimitRetryOptions = {}): TRPCLink<AppRouter> {
  const maxRetries = Math.max(0, Math.floor(opts.maxRetries ?? DEFAULT_RATE_LIMIT_RETRIES));
  const maxDelayMs = Math.max(0, opts.maxDelayMs ?? DEFAULT_RATE_LIMIT_MAX_DELAY_MS);
  return () =>
    ({ op, next }) => {
      if (op.type !== 'query') return next(op);
      return observable((observer) => {
        let current: { unsubscribe(): void } | undefined;
        let timer: ReturnType<typeof setTimeout> | undefined;
        let stopped = false;
        const attempt = (retries: number) => {
          current = next(op).subscribe({
            next: (value) => observer.next(value),
            complete: () => observer.complete(),
            error: (err) => {
              const delay = retries < maxRetries ? retryAfterMs(err) : null;
              if (stopped || delay === null || delay > maxDelayMs) {
                observer.error(err);
                return;
              }
              timer = setTimeout(() => attempt(retries + 1), delay);
            },
          });
        };
        attempt(0);
        return () => {
          stopped = true;
          clearTimeout(timer);
          current?.unsubscribe();
        };
      });
    };
}

/**
 * The given fetch (or the global one, looked up per call), reading the server's API version from each
 * answer and reporting an incompatible one once per version.
 */
function versionCheckingFetch(
  base: FetchLike | undefined,
  onMismatch: (mismatch: VersionMismatch) => void,
): FetchLike {
  const seen = new Set<string>();
  return async (input, init) => {
    const res = await (base ?? globalThis.fetch)(input, init);
    const server = res.headers?.get?.(API_VERSION_HEADER);
    if (server && !seen.has(server)) {
      seen.add(server);
      if (!isCompatibleApiVersion(server)) onMismatch({ server, client: API_VERSION });
    }
    return res;
  };
}

const warnedVersions = new Set<string>();

function warnVersionMismatch({ server, client }: VersionMismatch): void {
  if (warnedVersions.has(server)) return;
  warnedVersions.add(server);
  console.warn(
    `@whatsapp-crm/sdk speaks API ${client}, but the server reports API ${server}: calls may fail or ` +
      'return unexpected shapes. Upgrade the sdk (or the server) to the same major version.',
  );
}

function tokenSource(options: ClientAuth): TokenSource {
  if (typeof options.getToken === 'function') return options.getToken;
  const key = options.apiKey;
  return () => key;
}

/** The runtime's EventSource, or one that explains what to pass when there is none (Node 20). */
function nativeEventSource(): TrpcEventSource {
  const native = (globalThis as { EventSource?: TrpcEventSource }).EventSource;
  if (native) return native;
  return class MissingEventSource {
    constructor() {
      throw new Error(
        "This runtime has no EventSource: pass one to createClient, e.g. `EventSource` from the 'eventsource' package",
      );
    }
  } as unknown as TrpcEventSource;
}
