import { getTRPCErrorShape, type TRPC_ERROR_CODE_KEY, TRPCError, transformTRPCResponse } from '@trpc/server';
import { appRouter } from '../trpc/router';

/**
 * Answers for /trpc requests refused before tRPC runs them (the rate limit), in the exact shape tRPC
 * itself sends, so every tRPC client link decodes them into an error with its code: the router's
 * error formatter and transformer (superjson) apply as for any procedure's error.
 */

/** True when the query string of `url` has `batch=1`: a batch, whose paths are comma-separated. */
function isBatch(url: string): boolean {
  const q = url.indexOf('?');
  return q >= 0 && /(?:^|&)batch=1(?:&|$)/.test(url.slice(q + 1));
}

/** The procedure paths a /trpc URL names: one, or each of a batch's. */
export function trpcPaths(url: string): string[] {
  const q = url.indexOf('?');
  const raw = url.slice('/trpc/'.length, q < 0 ? undefined : q);
  let decoded = raw;
  try {
    decoded = decodeURIComponent(raw);
  } catch {
    // A malformed escape stays as sent; tRPC refuses the request the same way.
  }
  return isBatch(url) ? decoded.split(',') : [decoded];
}

/**
 * How many procedures a /trpc request runs: each path of a batch (`?batch=1`) counts. A batch over
 * the maximum runs nothing (tRPC refuses it), so it counts once.
 */
export function procedureCount(url: string, maxBatchSize: number): number {
  if (!isBatch(url)) return 1;
  const paths = trpcPaths(url).length;
  return paths > maxBatchSize ? 1 : paths;
}

/**
 * The body of a tRPC error answer to the request at `url`. A batch read without streaming gets one
 * error per procedure (as tRPC answers a batch whose calls all fail); a single call, or a batch whose
 * client asked for a stream (`trpc-accept: application/jsonl`), gets one error for the request, which
 * the streaming link reads from a non-2xx answer.
 */
export function trpcErrorBody(
  url: string,
  accept: string | string[] | undefined,
  code: TRPC_ERROR_CODE_KEY,
  message: string,
): unknown {
  const config = appRouter._def._config;
  const error = new TRPCError({ code, message });
  const shape = (path: string | undefined) =>
    getTRPCErrorShape({ config, error, type: 'unknown', path, input: undefined, ctx: undefined });
  const paths = trpcPaths(url);
  const streaming = (Array.isArray(accept) ? accept[0] : accept) === 'application/jsonl';
  if (isBatch(url) && !streaming) {
    return transformTRPCResponse(
      config,
      paths.map((path) => ({ error: shape(path) })),
    );
  }
  return transformTRPCResponse(config, { error: shape(isBatch(url) ? undefined : paths[0]) });
}
