import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { wantsPrettyLogs } from '../../server/log';

/** Logs one line carrying a configured secret through createLogger in a child process; returns stdout. */
function logOnce(pretty: boolean): string {
  const code = `
    import { createLogger } from './server/log.ts';
    const log = createLogger({ logLevel: 'info' }, ['sk-live-0123456789'], undefined, { pretty: ${pretty} });
    log.info({ conversation: 42 }, 'calling with sk-live-0123456789');
  `;
  const run = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], {
    encoding: 'utf8',
    env: { PATH: process.env.PATH, NO_COLOR: '1' },
    timeout: 30_000,
  });
  expect(run.status, run.stderr).toBe(0);
  return run.stdout;
}

describe('log format', () => {
  it('is JSON in production whatever the terminal or LOG_PRETTY say', () => {
    expect(wantsPrettyLogs({ env: 'production', logPretty: '1', isTTY: true })).toBe(false);
    expect(wantsPrettyLogs({ env: 'production', logPretty: undefined, isTTY: true })).toBe(false);
  });

  it('is readable text in development on a terminal, or when LOG_PRETTY=1, and LOG_PRETTY=0 turns it off', () => {
    expect(wantsPrettyLogs({ env: 'development', logPretty: undefined, isTTY: true })).toBe(true);
    expect(wantsPrettyLogs({ env: 'development', logPretty: undefined, isTTY: false })).toBe(false);
    expect(wantsPrettyLogs({ env: 'development', logPretty: '1', isTTY: false })).toBe(true);
    expect(wantsPrettyLogs({ env: 'test', logPretty: '1', isTTY: undefined })).toBe(true);
    expect(wantsPrettyLogs({ env: 'development', logPretty: '0', isTTY: true })).toBe(false);
  });

  it('prints pretty lines through pino-pretty with secrets still scrubbed, and JSON lines otherwise', () => {
    const pretty = logOnce(true);
    expect(pretty).toMatch(/INFO.*calling with \[redacted\]/);
    expect(pretty).toContain('conversation: 42');
    expect(pretty).not.toContain('sk-live-0123456789');
    expect(() => JSON.parse(pretty.trim())).toThrow();

    const json = JSON.parse(logOnce(false).trim());
    expect(json).toMatchObject({ level: 30, msg: 'calling with [redacted]', conversation: 42 });
  });
});
