import {
  GatewayNotConfiguredError,
  GatewayRateLimitedError,
  GatewayRejectedError,
  GatewayTransientError,
  mayHaveArrived,
} from './gateway';

/**
 * What to do after a gateway send failed, for conversation replies (pipeline/send.ts) and campaign
 * sends (campaigns/dispatch.ts) alike:
 * - `retry-after`: the gateway's rate limit; nobody sends before `waitMs` (its retry time, capped by
 *   GATEWAY_RETRY_AFTER_MAX_SECONDS), then this message goes again.
 * - `backoff`: surely not sent (an HTTP error status, no connection); try again after `delayMs`.
 * - `give-up`: surely not sent, and this was the last attempt.
 * - `may-have-arrived`: no answer although the request may have reached the gateway; never sent again
 *   (a customer must not get a message twice), failed for a person to check.
 * - `rejected`: the gateway refused it; retrying will not help.
 * - `not-configured`: no gateway credentials.
 * - `unknown`: not a gateway error (a bug); the caller rethrows it.
 * `error` texts are safe to store and show (gateway clients redact credentials).
 */
export type SendFailure =
  | { kind: 'retry-after'; waitMs: number; retryAfterMs: number; capped: boolean }
  | { kind: 'backoff'; delayMs: number; error: string }
  | { kind: 'give-up'; error: string }
  | { kind: 'may-have-arrived'; error: string }
  | { kind: 'rejected'; error: string }
  | { kind: 'not-configured' }
  | { kind: 'unknown' };

export interface SendAttempt {
  /** This attempt's number, from 1. */
  attempt: number;
  maxAttempts: number;
  retryAfterMaxSeconds: number;
}

/** The longest back-off between two attempts of a surely-unsent message. */
export const MAX_BACKOFF_MS = 30_000;

export function classifySendFailure(err: unknown, a: SendAttempt): SendFailure {
  if (err instanceof GatewayRateLimitedError) {
    const capMs = a.retryAfterMaxSeconds * 1000;
    return {
      kind: 'retry-after',
      waitMs: Math.min(err.retryAfterMs, capMs),
      retryAfterMs: err.retryAfterMs,
      capped: err.retryAfterMs > capMs,
    };
  }
  if (err instanceof GatewayTransientError) {
    if (mayHaveArrived(err))
      return {
        kind: 'may-have-arrived',
        error: `No answer from the gateway (${err.message}); the message may have arrived`,
      };
    if (a.attempt >= a.maxAttempts)
      return { kind: 'give-up', error: `Gateway unavailable after ${a.attempt} attempts: ${err.message}` };
    return {
      kind: 'backoff',
      delayMs: Math.min(MAX_BACKOFF_MS, 1000 * 2 ** (a.attempt - 1)),
      error: err.message,
    };
  }
  if (err instanceof GatewayRejectedError)
    return { kind: 'rejected', error: `Rejected by the gateway: ${err.reason}` };
  if (err instanceof GatewayNotConfiguredError) return { kind: 'not-configured' };
  return { kind: 'unknown' };
}
