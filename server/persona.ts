import { readFileSync } from 'node:fs';
import { z } from 'zod';

/** The fixed texts the bot sends without the model, by the key `fixedText` knows them by. */
export const FIXED_TEXT_KEYS = [
  'fallbackMessage',
  'handoffMessage',
  'backMessage',
  'optOutConfirmation',
  'optInConfirmation',
  'nonTextReply',
  'afterHoursHandoffMessage',
  'afterHoursFallbackMessage',
] as const;
export type FixedTextKey = (typeof FIXED_TEXT_KEYS)[number];

/** The placeholder the after-hours texts put the next opening time in ("on Monday at 9:00 AM"). */
export const WHEN_PLACEHOLDER = '{when}';

export const WEEKDAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'] as const;
export type Weekday = (typeof WEEKDAYS)[number];

/** A two-letter ISO 639-1 language code, lower case ("en", "es", "pt"), that Intl can format dates in. */
const languageCode = z
  .string()
  .regex(/^[a-z]{2}$/, 'must be a two-letter ISO 639-1 code such as "en"')
  .refine((code) => Intl.DateTimeFormat.supportedLocalesOf(code).length > 0, {
    message: 'is not a language this Node.js can format dates in',
  });

const text = z.string().min(1);
const afterHoursText = text.refine((t) => t.includes(WHEN_PLACEHOLDER), {
  message: `must contain ${WHEN_PLACEHOLDER}, where the next opening time goes`,
});

/** One language's version of every fixed text (the after-hours ones are needed with business hours). */
const translationSchema = z
  .object({
    fallbackMessage: text,
    handoffMessage: text,
    backMessage: text,
    optOutConfirmation: text,
    optInConfirmation: text,
    nonTextReply: text,
    afterHoursHandoffMessage: afterHoursText.optional(),
    afterHoursFallbackMessage: afterHoursText.optional(),
  })
  .strict();

const HOURS_RANGE = /^([01]\d|2[0-3]):([0-5]\d)-(([01]\d|2[0-3]):([0-5]\d)|24:00)$/;

/** "09:00-18:00" as minutes of the day [540, 1080]; null when malformed or empty. */
export function parseHoursRange(range: string): [number, number] | null {
  const m = HOURS_RANGE.exec(range);
  if (!m) return null;
  const start = Number(m[1]) * 60 + Number(m[2]);
  const end = m[3] === '24:00' ? 24 * 60 : Number(m[4]) * 60 + Number(m[5]);
  return start < end ? [start, end] : null;
}

function isTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

function isCalendarDate(date: string): boolean {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(date);
  if (!m) return false;
  const d = new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])));
  return d.toISOString().slice(0, 10) === date;
}

const dayRanges = z.array(z.string()).superRefine((ranges, ctx) => {
  const parsed: [number, number][] = [];
  ranges.forEach((range, i) => {
    const r = parseHoursRange(range);
    if (!r) {
      ctx.addIssue({
        code: 'custom',
        path: [i],
        message: `"${range}" is not a range like "09:00-18:00" (24-hour clock, end after start, 24:00 allowed as the end; split a range that crosses midnight)`,
      });
    } else parsed.push(r);
  });
  const sorted = parsed.toSorted((a, b) => a[0] - b[0]);
  for (let i = 1; i < sorted.length; i++) {
    if (sorted[i]![0] < sorted[i - 1]![1]) {
      ctx.addIssue({ code: 'custom', message: `the ranges ${ranges.join(', ')} overlap` });
      break;
    }
  }
});

/**
 * When people answer: outside these hours the bot still replies, and a handoff tells the customer
 * when a person will be back instead of promising a reply shortly.
 */
const businessHoursSchema = z
  .object({
    /** IANA time zone the hours and holidays are in ("Europe/Madrid"). */
    timeZone: z
      .string()
      .refine(isTimeZone, { message: 'is not a known IANA time zone such as "Europe/Madrid"' }),
    /** Opening ranges per weekday ("mon": ["09:00-13:00", "14:00-18:00"]); a missing day is closed. */
    weekly: z
      .object(
        Object.fromEntries(WEEKDAYS.map((d) => [d, dayRanges.optional()])) as Record<
          Weekday,
          z.ZodOptional<typeof dayRanges>
        >,
      )
      .strict()
      .refine((w) => Object.values(w).some((r) => r && r.length > 0), {
        message: 'must open at least one range in the week',
      }),
    /** Whole days closed, in the business's time zone ("2026-12-25"). */
    holidays: z
      .array(z.string().refine(isCalendarDate, { message: 'must be a date like "2026-12-25"' }))
      .default([]),
    /** The handoff message outside the hours, in the default language; {when} is the next opening. */
    handoffMessage: afterHoursText,
    /** The fallback message outside the hours, in the default language; {when} is the next opening. */
    fallbackMessage: afterHoursText,
  })
  .strict();

export type BusinessHours = z.infer<typeof businessHoursSchema>;

/** The bot's voice and behaviour, read from persona.json and validated at startup. */
export const personaSchema = z
  .object({
    name: z.string().min(1),
    /** The language of the top-level texts, used when the customer's language is unknown. */
    defaultLanguage: languageCode.default('en'),
    description: z.string().min(1),
    systemPrompt: z.string().min(1),
    fallbackMessage: z.string().min(1),
    handoff: z
      .object({
        keywords: z.array(z.string().min(1)).default([]),
        message: z.string().min(1),
        /** Sent when the conversation is handed back to the bot (optional per hand-back). */
        backMessage: z.string().min(1),
      })
      .strict(),
    optOut: z
      .object({
        keywords: z.array(z.string().min(1)).min(1),
        confirmation: z.string().min(1),
        optInKeywords: z.array(z.string().min(1)).min(1),
        optInConfirmation: z.string().min(1),
      })
      .strict(),
    nonText: z
      .object({
        /** Reply to images, audio, documents and other non-text messages. */
        reply: z.string().min(1),
      })
      .strict(),
    /**
     * Media messages: `vision` sends customers' photos to the model as images (a model that reads
     * images is needed); `handoff` hands a conversation to a person when the bot cannot read a file
     * the customer sent (after the non-text reply). Voice notes are transcribed either way.
     */
    media: z
      .object({ vision: z.boolean().default(false), handoff: z.boolean().default(false) })
      .strict()
      .optional(),
    replySplitting: z
      .object({
        maxChars: z.number().int().min(50).max(4096),
        maxParts: z.number().int().min(1).max(20),
        delayMs: z.number().int().min(0).max(60_000),
      })
      .strict(),
    model: z
      .object({
        name: z.string().min(1),
        temperature: z.number().min(0).max(2),
        maxTokens: z.number().int().min(16).max(16_384),
      })
      .strict(),
    businessHours: businessHoursSchema.optional(),
    /** The fixed texts in other languages, by language code ("es", "pt"). */
    translations: z.record(languageCode, translationSchema).default({}),
  })
  .strict()
  .superRefine((p, ctx) => {
    for (const [lang, t] of Object.entries(p.translations)) {
      if (lang === p.defaultLanguage) {
        ctx.addIssue({
          code: 'custom',
          path: ['translations', lang],
          message: `is the default language: its texts are the top-level fields`,
        });
      }
      if (!p.businessHours) continue;
      for (const key of ['afterHoursHandoffMessage', 'afterHoursFallbackMessage'] as const) {
        if (!t[key]) {
          ctx.addIssue({
            code: 'custom',
            path: ['translations', lang, key],
            message: 'is required when businessHours is set',
          });
        }
      }
    }
  });

export type Persona = z.infer<typeof personaSchema>;

/** The languages the persona speaks: its default first, then those it has translations for. */
export function personaLanguages(persona: Persona): string[] {
  return [persona.defaultLanguage, ...Object.keys(persona.translations)];
}

export class PersonaError extends Error {
  constructor(
    readonly file: string,
    readonly problems: string[],
  ) {
    super(`Invalid persona file ${file}:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'PersonaError';
  }
}

export function parsePersona(raw: unknown, file = 'persona.json'): Persona {
  const parsed = personaSchema.safeParse(raw);
  if (!parsed.success) {
    throw new PersonaError(
      file,
      parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`),
    );
  }
  return parsed.data;
}

export function loadPersona(file: string): Persona {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new PersonaError(file, [`cannot be read: ${(err as NodeJS.ErrnoException).code ?? 'error'}`]);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new PersonaError(file, [`is not valid JSON: ${(err as Error).message}`]);
  }
  return parsePersona(raw, file);
}
