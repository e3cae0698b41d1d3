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
        // Secrets can still travel inside free text (an error message quoting a URL, say).
        streamWrite: secrets.length ? (line) => scrub(line, secrets) : undefined,
      },
    },
    destination,
  );
}

function scrub(line: string, secrets: string[]): string {
  let out = line;
  for (const s of secrets) if (s.length >= 6 && out.includes(s)) out = out.split(s).join('[redacted]');
  return out;
}
