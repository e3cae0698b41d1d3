import { inArray, sql } from 'drizzle-orm';
import { settings } from '../../drizzle';
import type { TBotSettings, TBotSettingsUpdate } from '../contracts';
import type { LiveSettings } from '../conversation/live-settings';
import type { Db } from '../db/types';
import type { Caller } from './caller';

export interface SettingsService {
  bot(): Promise<TBotSettings>;
  updateBot(input: TBotSettingsUpdate, caller: Caller): Promise<TBotSettings>;
  /** Loads the settings table into the live settings (the runtime calls it at start and periodically). */
  refresh(): Promise<void>;
}

const KEYS: Record<keyof TBotSettings, string> = {
  replyQuietMs: 'bot.reply_quiet_ms',
  humanQuietMinutes: 'bot.human_quiet_minutes',
  storeGroupMessages: 'groups.store_messages',
};

type NumberSetting = 'replyQuietMs' | 'humanQuietMinutes';

/**
 * Run-time settings: the environment gives the defaults, the settings table overrides them. This
 * service is the only writer of `live`, the store the pipeline reads on every use; it refreshes it
 * from the database periodically (other processes see a change within the refresh interval) and at
 * once in the process that made the change.
 */
export function createSettingsService(deps: {
  db: Db;
  defaults: TBotSettings;
  live: LiveSettings;
}): SettingsService {
  const { db, defaults, live } = deps;

  async function refresh() {
    const rows = await db
      .select({ key: settings.key, value: settings.value })
      .from(settings)
      .where(inArray(settings.key, Object.values(KEYS)));
    const stored = new Map(rows.map((r) => [r.key, r.value]));
    const value = (field: NumberSetting) => {
      const v = stored.get(KEYS[field]);
      return typeof v === 'number' && Number.isInteger(v) && v >= 0 ? v : defaults[field];
    };
    const flag = stored.get(KEYS.storeGroupMessages);
    live.update({
      replyQuietMs: value('replyQuietMs'),
      humanQuietMinutes: value('humanQuietMinutes'),
      storeGroupMessages: typeof flag === 'boolean' ? flag : defaults.storeGroupMessages,
    });
  }

  return {
    refresh,
    async bot() {
      await refresh();
      return { ...live.get() };
    },
    async updateBot(input, caller) {
      const entries = Object.entries(input) as Array<[keyof TBotSettings, number | boolean]>;
      await db
        .insert(settings)
        .values(entries.map(([field, value]) => ({ key: KEYS[field], value, updatedBy: caller.id })))
        .onConflictDoUpdate({
          target: settings.key,
          set: { value: sql`excluded.value`, updatedBy: sql`excluded.updated_by`, updatedAt: sql`now()` },
        });
      await refresh();
      return { ...live.get() };
    },
  };
}
