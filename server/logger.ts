/**
 * The logging surface services and the tRPC context depend on: pino's shape, without pino's types,
 * so nothing server-specific leaks into the published sdk's declarations.
 */
export interface LogFn {
  (msg: string): void;
  (obj: object, msg?: string): void;
}

export interface Logger {
  fatal: LogFn;
  error: LogFn;
  warn: LogFn;
  info: LogFn;
  debug: LogFn;
  trace: LogFn;
  child(bindings: Record<string, unknown>): Logger;
}

/** Paths pino replaces with [redacted] in every log line. */
export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers["x-webhook-signature"]',
  'req.headers.cookie',
  'headers.authorization',
  'headers["x-webhook-signature"]',
  'authorization',
  'apiKey',
  'apiToken',
  'token',
  'secret',
  'password',
  '*.apiKey',
  '*.apiToken',
  '*.token',
  '*.secret',
  '*.password',
];
