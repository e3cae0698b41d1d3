import type { RouterOutputs } from '../../server/trpc/router';

/**
 * The API's types, taken from the server's router at build time. Only types cross over: the bundled
 * declarations inline them, and no server code reaches the published JavaScript.
 */
export type { AppRouter, RouterInputs, RouterOutputs } from '../../server/trpc/router';

/** What a subscription's `onData` receives, given its `RouterOutputs` entry (an async iterable). */
export type SubscriptionData<T> = T extends AsyncIterable<infer U> ? U : never;

/** One item of `conversations.events`: `id` (sent back by the client to resume) and the event as `data`. */
export type ConversationEvent = SubscriptionData<RouterOutputs['conversations']['events']>;
