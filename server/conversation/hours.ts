import { type BusinessHours, parseHoursRange, WEEKDAYS } from '../persona';

/** A calendar day and time of day as a wall clock in the business's time zone shows them. */
interface WallTime {
  year: number;
  month: number;
  day: number;
  /** 0 = Sunday. */
  weekday: number;
  /** Minutes since midnight. */
  minutes: number;
}

const partsFormats = new Map<string, Intl.DateTimeFormat>();

function wallTime(at: Date, timeZone: string): WallTime {
  let f = partsFormats.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
    });
    partsFormats.set(timeZone, f);
  }
  const p = Object.fromEntries(f.formatToParts(at).map((x) => [x.type, x.value]));
  const year = Number(p.year);
  const month = Number(p.month);
  const day = Number(p.day);
  return {
    year,
    month,
    day,
    weekday: new Date(Date.UTC(year, month - 1, day)).getUTCDay(),
    minutes: Number(p.hour) * 60 + Number(p.minute),
  };
}

const dateKey = (w: Pick<WallTime, 'year' | 'month' | 'day'>) =>
  `${w.year}-${String(w.month).padStart(2, '0')}-${String(w.day).padStart(2, '0')}`;

/** The instant a wall clock in `timeZone` shows the given day and minute (DST gaps move it forward). */
function instantOf(year: number, month: number, day: number, minutes: number, timeZone: string): Date {
  const wanted = Date.UTC(year, month - 1, day, 0, minutes);
  let guess = wanted;
  for (let i = 0; i < 3; i++) {
    const w = wallTime(new Date(guess), timeZone);
    const shown = Date.UTC(w.year, w.month - 1, w.day, 0, w.minutes);
    if (shown === wanted) break;
    guess += wanted - shown;
  }
  return new Date(guess);
}

function rangesOf(hours: BusinessHours, weekday: number): [number, number][] {
  return (hours.weekly[WEEKDAYS[weekday]!] ?? [])
    .map(parseHoursRange)
    .filter((r): r is [number, number] => r !== null)
    .sort((a, b) => a[0] - b[0]);
}

/** Whether people answer at `now`: inside a weekly range, and not on a holiday. */
export function isOpen(hours: BusinessHours, now: Date): boolean {
  const w = wallTime(now, hours.timeZone);
  if (hours.holidays.includes(dateKey(w))) return false;
  return rangesOf(hours, w.weekday).some(([s, e]) => w.minutes >= s && w.minutes < e);
}

/** How far ahead the next opening is looked for (a year of holidays and then some). */
const SEARCH_DAYS = 400;

/**
 * When people answer next: null when they answer now (or never within a year, which the persona
 * schema makes impossible unless every day is a holiday).
 */
export function nextOpening(hours: BusinessHours, now: Date): Date | null {
  if (isOpen(hours, now)) return null;
  const today = wallTime(now, hours.timeZone);
  for (let offset = 0; offset <= SEARCH_DAYS; offset++) {
    const d = new Date(Date.UTC(today.year, today.month - 1, today.day + offset));
    const day = { year: d.getUTCFullYear(), month: d.getUTCMonth() + 1, day: d.getUTCDate() };
    if (hours.holidays.includes(dateKey(day))) continue;
    for (const [start] of rangesOf(hours, d.getUTCDay())) {
      if (offset === 0 && start <= today.minutes) continue;
      return instantOf(day.year, day.month, day.day, start, hours.timeZone);
    }
  }
  return null;
}

/** The words around a day and a time, per language; others get the locale's own date format. */
const PHRASES: Record<
  string,
  {
    today: string;
    tomorrow: string;
    weekday: (day: string, weekday: number) => string;
    at: (hour: number) => string;
  }
> = {
  en: { today: 'today', tomorrow: 'tomorrow', weekday: (d) => `on ${d}`, at: () => 'at' },
  es: {
    today: 'hoy',
    tomorrow: 'mañana',
    weekday: (d) => `el ${d}`,
    at: (h) => (h === 1 ? 'a la' : 'a las'),
  },
  pt: {
    today: 'hoje',
    tomorrow: 'amanhã',
    // "no sábado", "no domingo", "na segunda-feira"
    weekday: (d, wd) => `${wd === 0 || wd === 6 ? 'no' : 'na'} ${d}`,
    at: (h) => (h === 0 || h === 1 ? 'à' : 'às'),
  },
};

/**
 * The next opening as a customer reads it, in their language and the business's time zone:
 * "today at 2:00 PM", "tomorrow at 9:00 AM", "on Monday at 9:00 AM", "el lunes a las 9:00",
 * "na segunda-feira às 09:00"; a date is added when the day is a week or more away.
 */
export function describeOpening(at: Date, now: Date, language: string, timeZone: string): string {
  const when = wallTime(at, timeZone);
  const today = wallTime(now, timeZone);
  const days = Math.round(
    (Date.UTC(when.year, when.month - 1, when.day) - Date.UTC(today.year, today.month - 1, today.day)) /
      86_400_000,
  );
  const time = new Intl.DateTimeFormat(language, { timeZone, hour: 'numeric', minute: '2-digit' }).format(at);
  const phrases = PHRASES[language];
  if (!phrases) {
    return new Intl.DateTimeFormat(language, {
      timeZone,
      weekday: 'long',
      ...(days >= 7 ? { day: 'numeric', month: 'long' } : {}),
      hour: 'numeric',
      minute: '2-digit',
    }).format(at);
  }
  const hour = Math.floor(when.minutes / 60);
  const day =
    days === 0
      ? phrases.today
      : days === 1
        ? phrases.tomorrow
        : phrases.weekday(
            new Intl.DateTimeFormat(language, {
              timeZone,
              weekday: 'long',
              ...(days >= 7 ? { day: 'numeric', month: 'long' } : {}),
            }).format(at),
            when.weekday,
          );
  return `${day} ${phrases.at(hour)} ${time}`;
}
