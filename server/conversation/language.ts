import { latestInboundTexts } from '../db/queries/messages';
import type { DbOrTx } from '../db/types';
import { once } from '../once';
import { type FixedTextKey, type Persona, personaLanguages, WHEN_PLACEHOLDER } from '../persona';
import { describeOpening, nextOpening } from './hours';

/**
 * The language detector (eld, its smallest n-gram database: about 28 MB of heap and half a second
 * to load), loaded on the first detection only: a persona without translations never loads it.
 */
const detector = once(async () => (await import('eld/extrasmall')).eld);

/** How many of the customer's latest texts decide the language. */
export const LANGUAGE_SAMPLE = 3;
/** Characters of each text the detector reads (it reads at most 1,000 of a sample). */
const SAMPLE_CHARS = 300;
/** Control, format and surrogate characters: no language in them, and they would fill the sample. */
const NOISE = /[\p{Cc}\p{Cf}\p{Cs}]+/gu;

/**
 * The language to answer in, from the customer's texts (newest last): the newest text alone when
 * the detector is sure of it, else the last few together, else the persona's default. Only
 * languages the persona has texts in count; a text in another language gets the default.
 */
export async function detectLanguage(persona: Persona, texts: string[]): Promise<string> {
  const languages = personaLanguages(persona);
  const recent = texts
    .map((t) => t.replace(NOISE, ' ').trim().slice(0, SAMPLE_CHARS))
    .filter(Boolean)
    .slice(-LANGUAGE_SAMPLE);
  if (languages.length < 2 || recent.length === 0) return persona.defaultLanguage;
  const eld = await detector();
  const samples = recent.length > 1 ? [recent.at(-1)!, recent.join('\n')] : [recent[0]!];
  for (const sample of samples) {
    const result = eld.detect(sample);
    if (languages.includes(result.language) && result.isReliable()) return result.language;
  }
  return persona.defaultLanguage;
}

/** The customer's language, from the conversation's latest inbound texts (read outside a transaction). */
export async function conversationLanguage(
  db: DbOrTx,
  persona: Persona,
  conversationId: string,
): Promise<string> {
  if (personaLanguages(persona).length < 2) return persona.defaultLanguage;
  const newestFirst = await latestInboundTexts(db, conversationId, LANGUAGE_SAMPLE);
  return detectLanguage(persona, newestFirst.reverse());
}

/** The default language's version of each fixed text. */
function defaultText(persona: Persona, key: FixedTextKey): string | undefined {
  switch (key) {
    case 'fallbackMessage':
      return persona.fallbackMessage;
    case 'handoffMessage':
      return persona.handoff.message;
    case 'backMessage':
      return persona.handoff.backMessage;
    case 'optOutConfirmation':
      return persona.optOut.confirmation;
    case 'optInConfirmation':
      return persona.optOut.optInConfirmation;
    case 'nonTextReply':
      return persona.nonText.reply;
    case 'afterHoursHandoffMessage':
      return persona.businessHours?.handoffMessage;
    case 'afterHoursFallbackMessage':
      return persona.businessHours?.fallbackMessage;
  }
}

/** The after-hours version of a text that promises a person's reply. */
const AFTER_HOURS: Partial<Record<FixedTextKey, FixedTextKey>> = {
  handoffMessage: 'afterHoursHandoffMessage',
  fallbackMessage: 'afterHoursFallbackMessage',
};

/**
 * A fixed text in the customer's language (the default language's when the persona has none in
 * theirs). With `now` and business hours set, the handoff and fallback messages sent while nobody
 * is at work say when a person will reply ("A colleague will reply on Monday at 9:00 AM").
 */
export function fixedText(persona: Persona, key: FixedTextKey, language: string, now?: Date): string {
  const hours = persona.businessHours;
  const afterHoursKey = AFTER_HOURS[key];
  if (hours && afterHoursKey && now) {
    const opening = nextOpening(hours, now);
    if (opening) {
      const lang = persona.translations[language]?.[afterHoursKey] ? language : persona.defaultLanguage;
      const template = textIn(persona, afterHoursKey, lang);
      return template.replaceAll(WHEN_PLACEHOLDER, describeOpening(opening, now, lang, hours.timeZone));
    }
  }
  return textIn(persona, key, language);
}

function textIn(persona: Persona, key: FixedTextKey, language: string): string {
  const translated = language === persona.defaultLanguage ? undefined : persona.translations[language]?.[key];
  const text = translated ?? defaultText(persona, key);
  if (text === undefined) throw new Error(`The persona has no text for ${key}`);
  return text;
}

/** When a person answers next, for a handoff task's due time: null while people are at work. */
export function nextPersonAvailable(persona: Persona, now: Date): Date | null {
  return persona.businessHours ? nextOpening(persona.businessHours, now) : null;
}
