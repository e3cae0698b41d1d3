import { TRPCError } from '@trpc/server';
import { ZodRealError } from 'zod';

/**
 * Values no procedure accepts, whatever its contract: what Postgres cannot store or would store
 * changed. Checked on the raw input of every procedure (see `procedures.ts`), before its own
 * validation, so a new procedure is covered without doing anything.
 *
 * - NUL (U+0000) in any string or object key: Postgres text and jsonb refuse it. Refused, not
 *   stripped: a silently changed value is worse than a clear 400.
 * - Unpaired UTF-16 surrogates: they have no UTF-8 form and would be stored as U+FFFD. Refused.
 * - Dates that are invalid or outside the years 1000–9999 (Postgres's timestamp range is narrower than
 *   JavaScript's at the low end, years past 9999 do not round-trip through ISO text, and years below
 *   100 come back from the driver as 19xx or 20xx). Refused.
 */
export const MIN_DATE = Date.parse('1000-01-01T00:00:00.000Z');
export const MAX_DATE = Date.parse('9999-12-31T23:59:59.999Z');
const MAX_DEPTH = 32;

export interface InputProblem {
  path: (string | number)[];
  message: string;
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

function stringProblem(value: string): string | null {
  if (value.includes('\u0000')) return 'must not contain NUL (U+0000) characters';
  if (LONE_SURROGATE.test(value)) return 'must not contain unpaired surrogate characters (invalid Unicode)';
  return null;
}

/** The first few problems of an input, each with the path of the field at fault. */
export function findInputProblems(input: unknown, limit = 5): InputProblem[] {
  const problems: InputProblem[] = [];
  const seen = new Set<object>();

  function visit(value: unknown, path: (string | number)[]): void {
    if (problems.length >= limit) return;
    if (typeof value === 'string') {
      const message = stringProblem(value);
      if (message) problems.push({ path, message });
      return;
    }
    if (value === null || typeof value !== 'object') return;
    if (value instanceof Date) {
      const time = value.getTime();
      if (Number.isNaN(time)) problems.push({ path, message: 'must be a valid date' });
      else if (time < MIN_DATE || time > MAX_DATE) {
        problems.push({ path, message: 'must be a date between the years 1000 and 9999' });
      }
      return;
    }
    if (seen.has(value)) return;
    seen.add(value);
    if (path.length >= MAX_DEPTH) {
      problems.push({ path, message: `is nested more than ${MAX_DEPTH} levels deep` });
      return;
    }
    if (Array.isArray(value)) {
      for (let i = 0; i < value.length; i++) visit(value[i], [...path, i]);
      return;
    }
    if (value instanceof Map) {
      for (const [k, v] of value) {
        visit(k, [...path, String(k)]);
        visit(v, [...path, String(k)]);
      }
      return;
    }
    if (value instanceof Set) {
      let i = 0;
      for (const item of value) visit(item, [...path, i++]);
      return;
    }
    for (const [key, item] of Object.entries(value)) {
      const message = stringProblem(key);
      if (message) {
        problems.push({ path: [...path, key], message: `field name ${message}` });
        continue;
      }
      visit(item, [...path, key]);
    }
  }

  visit(input, []);
  return problems;
}

/** A BAD_REQUEST naming each field at fault, in the same shape as a contract's validation error. */
export function inputError(problems: InputProblem[]): TRPCError {
  const cause = new ZodRealError(
    problems.map((p) => ({ code: 'custom' as const, path: p.path, message: p.message, input: undefined })),
  );
  return new TRPCError({ code: 'BAD_REQUEST', message: 'Invalid input', cause });
}
