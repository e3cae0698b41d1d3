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

describe('persona languages and business hours', () => {
  const shipped = () => JSON.parse(JSON.stringify(loadPersona(path.resolve('persona.json'))));
  const problems = (raw: unknown) => {
    try {
      parsePersona(raw);
    } catch (err) {
      expect(err).toBeInstanceOf(PersonaError);
      return (err as Error).message;
    }
    return expect.unreachable('the persona was accepted');
  };
  const withHours = (hours: Record<string, unknown>) => {
    const raw = shipped();
    raw.businessHours = { ...raw.businessHours, ...hours };
    return raw;
  };

  it('a persona file from before languages and hours is still valid, in English', () => {
    const raw = shipped();
    delete raw.defaultLanguage;
    delete raw.translations;
    delete raw.businessHours;
    const p = parsePersona(raw);
    expect(p.defaultLanguage).toBe('en');
    expect(p.translations).toEqual({});
    expect(p.businessHours).toBeUndefined();
  });

  it.each([
    [{ timeZone: 'Mars/Olympus_Mons' }, 'businessHours.timeZone: is not a known IANA time zone'],
    [
      { weekly: { mon: ['09:00-13:00', '12:00-18:00'] } },
      'businessHours.weekly.mon: the ranges 09:00-13:00, 12:00-18:00 overlap',
    ],
    [{ weekly: { tue: ['9-17'] } }, 'businessHours.weekly.tue.0: "9-17" is not a range like "09:00-18:00"'],
    [{ weekly: { fri: ['22:00-02:00'] } }, 'split a range that crosses midnight'],
    [{ weekly: { funday: ['09:00-17:00'] } }, 'businessHours.weekly'],
    [{ weekly: {} }, 'businessHours.weekly: must open at least one range in the week'],
    [{ holidays: ['2026-02-30'] }, 'businessHours.holidays.0: must be a date like "2026-12-25"'],
    [{ handoffMessage: 'A colleague will reply soon.' }, 'businessHours.handoffMessage: must contain {when}'],
  ])('bad business hours are named: %j', (hours, message) => {
    expect(problems(withHours(hours))).toContain(message);
  });

  it.each([
    [
      'a bad code',
      (t: Record<string, Record<string, string>>) => {
        t.ES = t.es!;
      },
      'translations.ES',
    ],
    [
      'a missing text',
      (t: Record<string, Record<string, string>>) => {
        delete t.pt!.nonTextReply;
      },
      'translations.pt.nonTextReply',
    ],
    [
      'the default language',
      (t: Record<string, Record<string, string>>) => {
        t.en = t.es!;
      },
      'translations.en: is the default language',
    ],
    [
      'no after-hours text while business hours are set',
      (t: Record<string, Record<string, string>>) => {
        delete t.es!.afterHoursHandoffMessage;
      },
      'translations.es.afterHoursHandoffMessage: is required when businessHours is set',
    ],
    [
      'an after-hours text without {when}',
      (t: Record<string, Record<string, string>>) => {
        t.pt!.afterHoursFallbackMessage = 'Em breve.';
      },
      'translations.pt.afterHoursFallbackMessage: must contain {when}',
    ],
  ])('translations: %s is named', (_what, spoil, message) => {
    const raw = shipped();
    spoil(raw.translations);
    expect(problems(raw)).toContain(message);
  });

  it('a bad default language is named', () => {
    const raw = shipped();
    raw.defaultLanguage = 'english';
    expect(problems(raw)).toContain('defaultLanguage: must be a two-letter ISO 639-1 code');
    raw.defaultLanguage = 'qq';
    expect(problems(raw)).toContain('defaultLanguage: is not a language this Node.js can format dates in');
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

  it('business hours in an unknown time zone: exit code 1 and the field named', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'wcb-persona-'));
    const file = path.join(dir, 'persona.json');
    const raw = JSON.parse(JSON.stringify(loadPersona(path.resolve('persona.json'))));
    raw.businessHours.timeZone = 'Europe/Atlantis';
    writeFileSync(file, JSON.stringify(raw));
    const r = run({ PERSONA_PATH: file, DATA_DIR: 'memory://' });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('businessHours.timeZone: is not a known IANA time zone');
  });
});
