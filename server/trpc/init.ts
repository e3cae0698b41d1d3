import { initTRPC, TRPCError } from '@trpc/server';
import superjson from 'superjson';
import { ZodError, z } from 'zod';
import { AppError, type AppErrorCode } from '../errors';
import type { Context } from './context';

/**
 * Who may call a procedure (every procedure declares it through its base procedure), and, for the
 * procedures offered over REST, their route (see `server/http/openapi.ts`; the shape is what
 * trpc-to-openapi reads, declared here so the router's type needs no import from it).
 */
export type Meta = {
  /** Set by the base procedures (`procedures.ts`); `.meta({ openapi })` on a procedure keeps it. */
  auth?: 'public' | 'agent' | 'admin';
  openapi?: {
    method: 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE';
    path: `/${string}`;
    summary?: string;
    description?: string;
    tags?: string[];
    protect?: boolean;
    enabled?: boolean;
  };
};

const INTERNAL_MESSAGE = 'Internal server error';

const t = initTRPC
  .context<Context>()
  .meta<Meta>()
  .create({
    transformer: superjson,
    defaultMeta: { auth: 'public' },
    sse: {
      ping: { enabled: true, intervalMs: 15_000 },
      client: { reconnectAfterInactivityMs: 30_000 },
    },
    errorFormatter({ shape, error }) {
      const isBadRequest = error.code === 'BAD_REQUEST';
      // Unexpected errors keep their details in the server log; the client sees a generic message.
      const masked = error.code === 'INTERNAL_SERVER_ERROR';
      const zodError = isBadRequest && error.cause instanceof ZodError ? z.flattenError(error.cause) : null;
      const domainFields =
        isBadRequest && error.cause instanceof AppError && error.cause.fieldErrors
          ? { formErrors: [], fieldErrors: error.cause.fieldErrors }
          : null;
      return {
        message: masked ? INTERNAL_MESSAGE : zodError ? describeZod(error.cause as ZodError) : shape.message,
        code: shape.code,
        data: {
          code: shape.data.code,
          httpStatus: shape.data.httpStatus,
          path: shape.data.path,
          zodError: zodError ?? domainFields,
        },
      };
    },
  });

function describeZod(err: ZodError): string {
  const first = err.issues.slice(0, 5).map((i) => `${i.path.join('.') || 'input'}: ${i.message}`);
  return `Invalid input: ${first.join('; ')}${err.issues.length > 5 ? '; ...' : ''}`;
}

const CODE_MAP: Record<AppErrorCode, TRPCError['code']> = {
  BAD_REQUEST: 'BAD_REQUEST',
  UNAUTHORIZED: 'UNAUTHORIZED',
  FORBIDDEN: 'FORBIDDEN',
  NOT_FOUND: 'NOT_FOUND',
  CONFLICT: 'CONFLICT',
  PRECONDITION_FAILED: 'PRECONDITION_FAILED',
  TOO_MANY_REQUESTS: 'TOO_MANY_REQUESTS',
};

/**
 * Turns domain errors into their tRPC codes. In tRPC 11 a thrown error arrives here as a failed
 * result (a try/catch around next() would catch nothing), so the result is inspected instead. The
 * procedures' middlewares (`server/trpc/procedures.ts`) run it on the result they pass back, so a
 * call goes through one middleware.
 */
export function mapDomainError<R extends { ok: boolean; error?: unknown }>(result: R): R {
  if (result.ok) return result;
  const error = (result as { error: TRPCError }).error;
  if (!(error.cause instanceof AppError)) return result;
  const cause = error.cause;
  return { ...result, error: new TRPCError({ code: CODE_MAP[cause.code], message: cause.message, cause }) };
}

export const router = t.router;
export const middleware = t.middleware;
export const createCallerFactory = t.createCallerFactory;
export const baseProcedure = t.procedure;
