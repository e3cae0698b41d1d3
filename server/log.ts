import pino from 'pino';
import type { Config } from './config';
import { REDACT_PATHS } from './logger';

/**
 * Whether the process logs for a person reading a terminal: never in production (JSON lines for a log
 * collector; pino-pretty is a development dependency), otherwise LOG_PRETTY=1 or 0 when set, else when
 * stdout is a terminal.
 */
export function wantsPrettyLogs(opts: {
  env: Config['env'];
  logPretty: string | undefined;
  isTTY: boolean | undefined;
}): boolean {
  if (opts.env === 'production') return false;
  if (opts.logPretty === '1' || opts.logPretty === 'true') return true;
  if (opts.logPretty === '0' || opts.logPretty === 'false') return false;
  return opts.isTTY === true;
}

/**
 * The process logger: JSON lines, with credentials and configured secrets scrubbed. With `pretty`,
 * lines go through pino-pretty (a worker thread) to stdout as text, coloured on a terminal; secrets
 * are scrubbed before.
 */
export function createLogger(
  config: Pick<Config, 'logLevel'>,
  secrets: string[] = [],
  destination?: pino.DestinationStream,
  options: { pretty?: boolean } = {},
) {
  const pretty = options.pretty && !destination;
  const settings: pino.LoggerOptions = {
    level: config.logLevel,
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    hooks: {
      // Secrets can still travel inside free text: an error message quoting a URL, or a browser's
      // subscription URL, which carries its credentials in `connectionParams`.
      streamWrite: (line) => scrub(line, secrets),
    },
  };
  if (pretty) {
    settings.transport = {
      target: 'pino-pretty',
      options: { translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' },
    };
  }
  return destination ? pino(settings, destination) : pino(settings);
}

/** API keys in any form, and the query parameter browsers use to send them with subscriptions. */
const CREDENTIAL_PATTERNS: Array<[RegExp, string]> = [
  [/(connectionParams=)[^&"\s]*/g, '$1[redacted]'],
  [/wcb_[A-Za-z0-9_-]{8,}/g, '[redacted]'],
  [/wst_[A-Za-z0-9_-]{8,}/g, '[redacted]'],
  // Sign-in tokens (JWTs: a base64url JSON header, always starting with `eyJ`).
  [/eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*/g, '[redacted]'],
];

function scrub(line: string, secrets: string[]): string {
  let out = line;
  for (const [pattern, replacement] of CREDENTIAL_PATTERNS) out = out.replace(pattern, replacement);
  for (const s of secrets) if (s.length >= 6 && out.includes(s)) out = out.split(s).join('[redacted]');
  return out;
}
