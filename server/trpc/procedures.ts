import { TRPCError } from '@trpc/server';
import { AppError } from '../errors';
import { baseProcedure, mapDomainError, middleware } from './init';
import { findInputProblems, inputError } from './input-check';

/**
 * Refuses input no procedure can store (NUL, unpaired surrogates, dates out of range; see
 * `input-check.ts`) with a BAD_REQUEST naming the field, before the procedure's own validation.
 */
const checkInput = middleware(async ({ getRawInput, next }) => {
  const problems = findInputProblems(await getRawInput());
  if (problems.length) throw inputError(problems);
  return next();
});

/** Checks the caller's key and role, then maps domain errors of the call to their tRPC codes. */
const requireCaller = (role: 'agent' | 'admin') =>
  middleware(async ({ ctx, next }) => {
    // A refused sign-in token says why (expired, no staff account, deactivated).
    const caller = await ctx.authenticate().catch((err: unknown) => {
      if (err instanceof AppError && (err.code === 'UNAUTHORIZED' || err.code === 'FORBIDDEN')) {
        throw new TRPCError({ code: err.code, message: err.message });
      }
      throw err;
    });
    if (!caller) throw new TRPCError({ code: 'UNAUTHORIZED', message: 'A valid API key is required' });
    if (role === 'admin' && caller.role !== 'admin') {
      throw new TRPCError({ code: 'FORBIDDEN', message: 'This needs an admin key or an admin sign-in' });
    }
    return mapDomainError(await next({ ctx: { caller, log: ctx.log.child({ caller: caller.id }) } }));
  });

/** Anyone may call: liveness-style information only. */
export const publicProcedure = baseProcedure
  .meta({ auth: 'public' })
  .use(async ({ next }) => mapDomainError(await next()))
  .use(checkInput);

/** Staff: agent or admin keys (and the server's own scripts). */
export const authedProcedure = baseProcedure
  .meta({ auth: 'agent' })
  .use(requireCaller('agent'))
  .use(checkInput);

/** Admins only: keys, deletions, settings. */
export const adminProcedure = baseProcedure
  .meta({ auth: 'admin' })
  .use(requireCaller('admin'))
  .use(checkInput);
