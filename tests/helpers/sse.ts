import { createTRPCClient, httpSubscriptionLink } from '@trpc/client';
import { EventSource } from 'eventsource';
import type { FastifyInstance } from 'fastify';
import superjson from 'superjson';
import { vi } from 'vitest';
import type { TConversationEventsInput, TStreamedEvent } from '../../server/contracts';
import type { AppRouter } from '../../server/trpc/router';

export interface Received {
  id: string;
  data: TStreamedEvent;
}

export interface SseSubscription {
  received: Received[];
  /** Connection states the client went through (connecting, pending, idle). */
  states: string[];
  completed: boolean;
  started: Promise<void>;
  /** Waits until the received events satisfy the predicate. */
  waitFor(pred: (events: Received[]) => boolean, timeoutMs?: number): Promise<void>;
  unsubscribe(): void;
}

/** Listens on `http://host:port` for a Fastify app, returning its base URL. */
export async function listen(app: FastifyInstance): Promise<string> {
  if (!app.server.listening) await app.listen({ host: '127.0.0.1', port: 0 });
  const addr = app.server.address();
  return `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
}

/**
 * Subscribes to conversations.events over real Server-Sent Events with the `eventsource` package (Node
 * 20 has none), sending the API key as a header through the package's fetch hook.
 */
export function subscribeEvents(
  baseUrl: string,
  key: string,
  input: TConversationEventsInput = {},
): SseSubscription {
  const client = createTRPCClient<AppRouter>({
    links: [
      httpSubscriptionLink({
        url: `${baseUrl}/trpc`,
        transformer: superjson,
        EventSource,
        eventSourceOptions: () => ({
          fetch: (url, init) =>
            fetch(url, { ...init, headers: { ...init.headers, authorization: `Bearer ${key}` } }),
        }),
      }),
    ],
  });
  const received: Received[] = [];
  const states: string[] = [];
  let resolveStarted: () => void = () => {};
  const started = new Promise<void>((r) => {
    resolveStarted = r;
  });
  const result: SseSubscription = {
    received,
    states,
    completed: false,
    started,
    async waitFor(pred, timeoutMs = 15_000) {
      await vi.waitFor(
        () => {
          if (!pred(received)) throw new Error(`not yet: ${JSON.stringify(received.map((r) => r.id))}`);
        },
        { timeout: timeoutMs, interval: 50 },
      );
    },
    unsubscribe: () => sub.unsubscribe(),
  };
  const sub = client.conversations.events.subscribe(input, {
    onStarted: () => resolveStarted(),
    onData: (e) => {
      received.push({ id: e.id, data: e.data });
    },
    onConnectionStateChange: (s) => {
      states.push(s.state);
    },
    onComplete: () => {
      result.completed = true;
    },
  });
  return result;
}
