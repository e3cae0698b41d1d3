import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../server/config';
import { loadPersona, PersonaError, parsePersona } from '../server/persona';

describe('configuration', () => {
  it('starts with no variables at all: embedded database, nothing configured', () => {
    const c = loadConfig({});
    expect(c.database.url).toBeUndefined();
    expect(c.port).toBe(3000);
    expect(c.openai.apiKey).toBeUndefined();
    expect(c.wasender.webhookSecret).toBeUndefined();
    expect(c.http.corsOrigins).toEqual([]);
  });

  it('names every bad variable in one error', () => {
    try {
      loadConfig({
        PORT: 'eighty',
        DATABASE_URL: 'mysql://x',
        CORS_ORIGINS: 'not a url',
        REPLY_QUIET_MS: '-1',
      });
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      const msg = (err as ConfigError).message;
      for (const name of ['PORT', 'DATABASE_URL', 'CORS_ORIGINS', 'REPLY_QUIET_MS'])
        expect(msg).toContain(name);
    }
  });

  it('TRUST_PROXY: off by default; true, a hop count, or proxy addresses and ranges', () => {
    expect(loadConfig({}).http.trustProxy).toBe(false);
    expect(loadConfig({ TRUST_PROXY: 'false' }).http.trustProxy).toBe(false);
    expect(loadConfig({ TRUST_PROXY: 'true' }).http.trustProxy).toBe(true);
    expect(loadConfig({ TRUST_PROXY: '2' }).http.trustProxy).toBe(2);
    expect(loadConfig({ TRUST_PROXY: '10.0.0.5, 10.1.0.0/16 ,::1, fd00::/8' }).http.trustProxy).toEqual([
      '10.0.0.5',
      '10.1.0.0/16',
      '::1',
      'fd00::/8',
    ]);
    for (const bad of ['proxy.example.com', '10.0.0.0/33', '10.0.0.1,nonsense', '1000', '10.0.0.1/8/8']) {
      expect(() => loadConfig({ TRUST_PROXY: bad }), bad).toThrow(
        /TRUST_PROXY: must be false, true, a hop count/,
      );
    }
  });

  it('turns prepared statements off for the Supabase transaction pooler only', () => {
    expect(loadConfig({ DATABASE_URL: 'postgres://u:p@db.example.com:6543/postgres' }).database.prepare).toBe(
      false,
    );
    expect(loadConfig({ DATABASE_URL: 'postgres://u:p@db.example.com:5432/postgres' }).database.prepare).toBe(
      true,
    );
    expect(
      loadConfig({ DATABASE_URL: 'postgres://u:p@db.example.com:5432/postgres', DATABASE_PREPARE: 'false' })
        .database.prepare,
    ).toBe(false);
  });

  it('refuses unsigned webhooks in production', () => {
    expect(() => loadConfig({ NODE_ENV: 'production', WEBHOOK_ALLOW_UNSIGNED: 'true' })).toThrow(
      /WEBHOOK_ALLOW_UNSIGNED/,
    );
  });
});

describe('persona.json', () => {
  it('the shipped persona is valid', () => {
    const p = loadPersona(path.resolve('persona.json'));
    expect(p.optOut.keywords).toContain('stop');
  });

  it('a broken persona names the exact field at fault', () => {
    const raw = JSON.parse(JSON.stringify(loadPersona(path.resolve('persona.json'))));
    raw.replySplitting.maxChars = 'long';
    delete raw.fallbackMessage;
    try {
      parsePersona(raw);
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(PersonaError);
      expect((err as Error).message).toContain('replySplitting.maxChars');
      expect((err as Error).message).toContain('fallbackMessage');
    }
  });
});

describe('startup refuses bad settings with a clear message', () => {
  const run = (env: Record<string, string>) =>
    spawnSync(process.execPath, ['--import', 'tsx', 'server/main.ts'], {
      env: { PATH: process.env.PATH, ...env },
      encoding: 'utf8',
      timeout: 30_000,
    });

  it('a bad variable: exit code 1 and the variable named', () => {
    const r = run({ PORT: 'abc', DATA_DIR: 'memory://' });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('PORT');
  });

  it('a broken persona.json: exit code 1 and the field named', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'wcb-persona-'));
    const file = path.join(dir, 'persona.json');
    writeFileSync(file, JSON.stringify({ name: 'X' }));
    const r = run({ PERSONA_PATH: file, DATA_DIR: 'memory://' });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('systemPrompt');
  });
});
