/**
 * What the published router type says about the server's tRPC context: nothing. The sdk's declaration build
 * puts this module in place of server/trpc/context.ts, so the router's type carries no server internals
 * (services, logger, credentials) and a refactor of them never changes the sdk's public types. Clients never
 * see a context; only the server's procedures do.
 */
export type Context = object;
