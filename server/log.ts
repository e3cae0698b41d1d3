import pino from 'pino';
import type { Config } from './config';
import { REDACT_PATHS } from './logger';

/** The process logger: JSON lines, with credentials and configured secrets scrubbed. */
export function createLogger(
  config: Pick<Config, 'logLevel'>,
  secrets: string[] = [],
  destination?: pino.DestinationStream,
) {
  return pino(
    {
      level: config.logLevel,
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      hooks: {
        // Secrets can still travel inside free text: an error message quoting a URL, or a browser's
        // subscription URL, which carries its credentials in `connectionParams`.
        streamWrite: (line) => scrub(line, secrets),
      },
    },
    destination,
  );
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
