import { inArray, sql } from 'drizzle-orm';
import { settings } from '../../drizzle';
import type { TBotSettings, TBotSettingsUpdate } from '../contracts';
import type { Db } from '../db/types';
import type { Caller } from './auth';

export interface SettingsService {
  bot(): Promise<TBotSettings>;
  updateBot(caller: Caller, input: TBotSettingsUpdate): Promise<TBotSettings>;
}

const KEYS: Record<keyof TBotSettings, string> = {
  replyQuietMs: 'bot.reply_quiet_ms',
  humanQuietMinutes: 'bot.human_quiet_minutes',
};

/**
 * Run-time settings: the environment gives the defaults, the settings table overrides them. `live` is
 * the object the pipeline reads on every use; it is refreshed from the database periodically (other
 * processes see a change within the refresh interval) and at once in the process that made it.
 */
export function createSettingsService(deps: {
  db: Db;
  defaults: TBotSettings;
  live: TBotSettings;
}): SettingsService & { refresh(): Promise<void> } {
  const { db, defaults, live } = deps;

  async function refresh() {
    const rows = await db
      .select({ key: settings.key, value: settings.value })
      .from(settings)
      .where(inArray(settings.key, Object.values(KEYS)));
    const stored = new Map(rows.map((r) => [r.key, r.value]));
    for (const [field, key] of Object.entries(KEYS) as Array<[keyof TBotSettings, string]>) {
      const v = stored.get(key);
      live[field] = typeof v === 'number' && Number.isInteger(v) && v >= 0 ? v : defaults[field];
    }
  }

  return {
    refresh,
    async bot() {
      await refresh();
      return { ...live };
    },
    async updateBot(caller, input) {
      const entries = Object.entries(input) as Array<[keyof TBotSettings, number]>;
      await db
        .insert(settings)
        .values(entries.map(([field, value]) => ({ key: KEYS[field], value, updatedBy: caller.id })))
        .onConflictDoUpdate({
          target: settings.key,
          set: { value: sql`excluded.value`, updatedBy: sql`excluded.updated_by`, updatedAt: sql`now()` },
        });
      await refresh();
      return { ...live };
    },
  };
}
