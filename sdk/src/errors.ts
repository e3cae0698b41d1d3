import { isTRPCClientError, type TRPCClientError } from '@trpc/client';
import type { TRPC_ERROR_CODE_KEY } from '@trpc/server';
import type { AppRouter } from './types';

/** What every failed call throws: the server's error (code, HTTP status, field errors) or a network failure. */
export type ApiError = TRPCClientError<AppRouter>;

/** The API's error codes, such as `BAD_REQUEST`, `UNAUTHORIZED`, `NOT_FOUND` or `CONFLICT`. */
export type ApiErrorCode = TRPC_ERROR_CODE_KEY;

/** Field messages of a rejected input, keyed by the input's top-level field. */
export interface ValidationDetails {
  /** One line for the whole input, such as "Invalid input: phone: must be a phone number". */
  message: string;
  /** Messages about a field, keyed by field name. */
  fieldErrors: Record<string, string[]>;
  /** Messages about the input as a whole. */
  formErrors: string[];
}

/** True for any error a client call throws, whether the server answered or the request failed. */
export function isApiError(err: unknown): err is ApiError {
  return isTRPCClientError<AppRouter>(err) || (err instanceof Error && err.name === 'TRPCClientError');
}

/** The server's error code, or null when the request never got an answer (network failure, abort). */
export function errorCode(err: unknown): ApiErrorCode | null {
  if (!isApiError(err)) return null;
  return err.data?.code ?? null;
}

/** The HTTP status the server answered with, or null when there was no answer. */
export function errorStatus(err: unknown): number | null {
  if (!isApiError(err)) return null;
  return err.data?.httpStatus ?? null;
}

/** The server rejected the input (`BAD_REQUEST`); `validationDetails()` has the field messages. */
export function isValidationError(err: unknown): err is ApiError {
  return errorCode(err) === 'BAD_REQUEST';
}

/** The field and form messages of a validation error, or null when `err` is not one. */
export function validationDetails(err: unknown): ValidationDetails | null {
  if (!isApiError(err) || err.data?.code !== 'BAD_REQUEST') return null;
  const details = err.data.zodError;
  const fieldErrors: Record<string, string[]> = {};
  if (details) {
    for (const [field, messages] of Object.entries(details.fieldErrors as Record<string, unknown>)) {
      if (Array.isArray(messages)) fieldErrors[field] = messages.filter((m) => typeof m === 'string');
    }
  }
  return { message: err.message, fieldErrors, formErrors: details ? [...details.formErrors] : [] };
}

/** Missing, unknown or revoked credentials (`UNAUTHORIZED`), or a role that may not call this (`FORBIDDEN`). */
export function isAuthError(err: unknown): err is ApiError {
  const code = errorCode(err);
  return code === 'UNAUTHORIZED' || code === 'FORBIDDEN';
}

/** The record the call named does not exist (`NOT_FOUND`). */
export function isNotFound(err: unknown): err is ApiError {
  return errorCode(err) === 'NOT_FOUND';
}

/** The call would duplicate or contradict stored data, such as an existing phone (`CONFLICT`). */
export function isConflict(err: unknown): err is ApiError {
  return errorCode(err) === 'CONFLICT';
}

/** The server refused the call for sending too many requests (`TOO_MANY_REQUESTS`); see `retryAfterMs()`. */
export function isRateLimited(err: unknown): err is ApiError {
  return errorCode(err) === 'TOO_MANY_REQUESTS';
}

/**
 * How long the server asked to wait before trying again, in milliseconds, from the `Retry-After` header
 * of a `TOO_MANY_REQUESTS` answer (seconds or an HTTP date); null for any other error or without the
 * header. In a browser the header is readable cross-origin because the server exposes it.
 */
export function retryAfterMs(err: unknown): number | null {
  if (!isRateLimited(err)) return null;
  const response = (err as { meta?: { response?: { headers?: { get?(name: string): string | null } } } }).meta
    ?.response;
  const value = response?.headers?.get?.('retry-after')?.trim();
  if (!value) return null;
  if (/^\d+$/.test(value)) return Number(value) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? null : Math.max(0, at - Date.now());
}
