import pino from 'pino';
import type { Logger } from '../../server/logger';

export const silentLogger: Logger = pino({ level: 'silent' });

/** A logger that keeps every line, for tests that inspect what was logged. */
export function captureLogger(secrets: string[] = []) {
  const lines: string[] = [];
  const stream = { write: (line: string) => void lines.push(line) };
  return { lines, stream, secrets };
}
