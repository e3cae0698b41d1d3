import type { TBotSettings } from '../contracts';

/**
 * The bot settings an admin may change while the server runs (quiet times). One store per process,
 * created by the runtime: the settings service is its only writer (it loads the settings table into
 * it), the pipeline and the services read it on every use.
 */
export interface LiveSettings {
  /** The current values; cheap (no database read). */
  get(): Readonly<TBotSettings>;
  /** Replaces the current values (the settings service, after reading or writing the settings table). */
  update(values: TBotSettings): void;
}

export function createLiveSettings(initial: TBotSettings): LiveSettings {
  let current: Readonly<TBotSettings> = Object.freeze({ ...initial });
  return {
    get: () => current,
    update(values) {
      current = Object.freeze({ ...values });
    },
  };
}

/**
 * `fixed` with its live fields (replyQuietMs, humanQuietMinutes, storeGroupMessages) read from `live` at each access, so
 * code that reads `deps.settings.humanQuietMinutes` sees an admin's change without holding the store.
 */
export function withLiveSettings<T extends TBotSettings>(fixed: T, live: LiveSettings): T {
  return {
    ...fixed,
    get replyQuietMs() {
      return live.get().replyQuietMs;
    },
    get humanQuietMinutes() {
      return live.get().humanQuietMinutes;
    },
    get storeGroupMessages() {
      return live.get().storeGroupMessages;
    },
  };
}
