/**
 * Errors services throw. They carry no transport detail; the tRPC layer maps each code to a status in
 * one place (trpc/init.ts), and their messages are written for the API's users.
 */
export type AppErrorCode =
  | 'BAD_REQUEST'
  | 'UNAUTHORIZED'
  | 'FORBIDDEN'
  | 'NOT_FOUND'
  | 'CONFLICT'
  | 'PRECONDITION_FAILED'
  | 'TOO_MANY_REQUESTS';

export class AppError extends Error {
  constructor(
    readonly code: AppErrorCode,
    message: string,
    /** Optional field errors, shown to the client with BAD_REQUEST. */
    readonly fieldErrors?: Record<string, string[]>,
  ) {
    super(message);
    this.name = 'AppError';
  }
}

export const notFound = (what: string, id?: string) =>
  new AppError('NOT_FOUND', id ? `${what} ${id} was not found` : `${what} was not found`);

export const conflict = (message: string) => new AppError('CONFLICT', message);

export const badRequest = (message: string, fieldErrors?: Record<string, string[]>) =>
  new AppError('BAD_REQUEST', message, fieldErrors);

/** Postgres unique-violation, for turning a race into a CONFLICT instead of a 500. */
export function isUniqueViolation(err: unknown, constraint?: string): boolean {
  const e = err as { code?: string; constraint_name?: string; cause?: unknown } | undefined;
  if (!e) return false;
  if (e.code === '23505') return constraint ? e.constraint_name === constraint : true;
  return e.cause ? isUniqueViolation(e.cause, constraint) : false;
}
