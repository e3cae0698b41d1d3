import { createTRPCContext, createTRPCOptionsProxy, type TRPCOptionsProxy } from '@trpc/tanstack-react-query';
import type { AppRouter } from './types';

/**
 * tRPC's TanStack Query integration, typed for this API. Wrap the app in `TRPCProvider` (with a client from
 * `createClient` and a `QueryClient`); `useTRPC()` then gives `queryOptions`, `mutationOptions`,
 * `subscriptionOptions` and query keys for every procedure. `@trpc/tanstack-react-query`,
 * `@tanstack/react-query` and `react` are optional peers, needed only by apps that import this entry.
 */
type ReactIntegration = ReturnType<typeof createTRPCContext<AppRouter>>;
const integration: ReactIntegration = createTRPCContext<AppRouter>();

export const TRPCProvider: ReactIntegration['TRPCProvider'] = integration.TRPCProvider;
export const useTRPC: ReactIntegration['useTRPC'] = integration.useTRPC;
export const useTRPCClient: ReactIntegration['useTRPCClient'] = integration.useTRPCClient;

/** The options proxy of this API: what `useTRPC()` returns. */
export type ApiOptionsProxy = TRPCOptionsProxy<AppRouter>;
/** `createOptionsProxy`'s options: `{ client, queryClient }` (a client from `createClient`). */
export type OptionsProxyOptions = Parameters<typeof createTRPCOptionsProxy<AppRouter>>[0];

/** The options proxy without React context: for route loaders, prefetching, or code outside components. */
export function createOptionsProxy(opts: OptionsProxyOptions): ApiOptionsProxy {
  return createTRPCOptionsProxy<AppRouter>(opts);
}

export { useSubscription } from '@trpc/tanstack-react-query';
