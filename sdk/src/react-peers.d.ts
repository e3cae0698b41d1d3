/**
 * A stand-in for `@trpc/tanstack-react-query`'s types while the repository's workspace cannot install it: its
 * newest release in the registry (11.22.1) pins `@trpc/client` exactly, and the server uses a newer one.
 * Only `src/react.ts` uses it, and every export there is annotated with types the consumer's own copy of the
 * package resolves, so the published declarations never depend on this file (it is not shipped). The tests
 * type-check the react entry against the real package in a fresh React project. Delete this file once the
 * workspace installs the package.
 */
declare module '@trpc/tanstack-react-query' {
  export function createTRPCContext<TRouter>(): {
    TRPCProvider: (props: { children?: unknown; trpcClient: unknown; queryClient: unknown }) => unknown;
    useTRPC: () => TRPCOptionsProxy<TRouter>;
    useTRPCClient: () => unknown;
  };
  export function createTRPCOptionsProxy<TRouter>(opts: {
    queryClient: unknown;
    client: unknown;
  }): TRPCOptionsProxy<TRouter>;
  export type TRPCOptionsProxy<TRouter> = { readonly router?: TRouter };
  export function useSubscription(opts: unknown): unknown;
}
