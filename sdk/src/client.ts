import {
  createTRPCClient,
  httpBatchStreamLink,
  httpSubscriptionLink,
  splitLink,
  type TRPCClient,
} from '@trpc/client';
import superjson from 'superjson';
import type { AppRouter } from './types';

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
}

/** Credentials: a fixed API key, a function returning the current token, or none (public procedures only). */
export type ClientAuth =
  | { apiKey: string; getToken?: never }
  | { getToken: TokenSource; apiKey?: never }
  | { apiKey?: never; getToken?: never };

export type ClientOptions = CommonOptions & ClientAuth;

export const DEFAULT_MAX_BATCH_SIZE = 10;
export const DEFAULT_MAX_URL_LENGTH = 4000;

type TrpcFetch = NonNullable<Parameters<typeof httpBatchStreamLink>[0]['fetch']>;
type TrpcEventSource = NonNullable<Parameters<typeof httpSubscriptionLink>[0]['EventSource']>;

/**
 * Creates the typed API client. Queries and mutations travel in batched HTTP requests (superjson-encoded,
 * streamed back as each call finishes); subscriptions travel over Server-Sent Events and resume from the
 * last event they saw after a reconnect.
 */
export function createClient(options: ClientOptions): Client {
  const { url } = options;
  const token = tokenSource(options);
  const baseFetch: FetchLike | undefined = options.fetch;

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
          const fetchImpl = baseFetch ?? globalThis.fetch;
          return {
            headers,
            fetch: (input: string | URL, init?: RequestInit) => {
              const merged = new Headers(init?.headers);
              for (const [name, value] of Object.entries(headers)) merged.set(name, value);
              return fetchImpl(input, { ...init, headers: merged });
            },
          } as never;
        },
      })
    : httpSubscriptionLink<AppRouter, TrpcEventSource>({
        url,
        transformer: superjson,
        EventSource: nativeEventSource(),
        // The browser's EventSource cannot send headers: the key travels as tRPC connection parameters
        // in the stream's URL, where the server reads it as the authorization header.
        connectionParams: async () => {
          const value = await token();
          return value ? { authorization: `Bearer ${value}` } : {};
        },
      });

  return createTRPCClient<AppRouter>({
    links: [
      splitLink({
        condition: (op) => op.type === 'subscription',
        true: subscriptions,
        false: httpBatchStreamLink({
          url,
          transformer: superjson,
          maxItems: Math.max(1, Math.floor(options.maxBatchSize ?? DEFAULT_MAX_BATCH_SIZE)),
          maxURLLength: options.maxURLLength ?? DEFAULT_MAX_URL_LENGTH,
          headers: requestHeaders,
          ...(baseFetch ? { fetch: baseFetch as unknown as TrpcFetch } : {}),
        }),
      }),
    ],
  });
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
