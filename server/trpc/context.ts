import type { Logger } from '../logger';
import { once } from '../once';
import type { Services } from '../services';
import type { Caller } from '../services/auth';

export type { Caller };

/** The tRPC context: plain interfaces only, so the router's type carries no server dependency. */
export interface Context {
  log: Logger;
  services: Services;
  /** Resolves the caller once per request; null when the request carries no valid credentials. */
  authenticate(): Promise<Caller | null>;
}

/** A context for in-process callers (scripts, jobs, tests): the given caller, no HTTP involved. */
export function createInnerContext(opts: {
  services: Services;
  log: Logger;
  caller: Caller | null;
}): Context {
  return { services: opts.services, log: opts.log, authenticate: async () => opts.caller };
}

/** The context of one HTTP request: credentials come from `Authorization: Bearer <key>`. */
export function createRequestContext(opts: {
  services: Services;
  log: Logger;
  authorization: string | undefined;
  /** The caller the host already resolved from the same header (its rate limit needs it first). */
  resolved?: Caller | null;
  /** A subscription's single-use stream ticket (`staff.streamTicket`), used instead of a header. */
  streamTicket?: string;
}): Context {
  const token = bearerToken(opts.authorization);
  return {
    services: opts.services,
    log: opts.log,
    authenticate: once(() => {
      if (opts.streamTicket !== undefined && !token)
        return opts.services.auth.redeemStreamTicket(opts.streamTicket);
      return opts.resolved === undefined
        ? opts.services.auth.authenticate(token)
        : Promise.resolve(opts.resolved);
    }),
  };
}

export function bearerToken(header: string | undefined): string | null {
  if (!header) return null;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return m?.[1] ?? null;
}
