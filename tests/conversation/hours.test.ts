import { resolve } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { describeOpening, isOpen, nextOpening } from '../../server/conversation/hours';
import { fixedText, nextPersonAvailable } from '../../server/conversation/language';
import { type BusinessHours, loadPersona, type Persona, parsePersona } from '../../server/persona';

/** Business hours on a fixed clock: every `now` below is a literal instant. */

const hours: BusinessHours = {
  timeZone: 'Europe/Madrid',
  weekly: {
    mon: ['09:00-13:00', '14:00-18:00'],
    tue: ['09:00-18:00'],
    wed: ['09:00-18:00'],
    thu: ['09:00-18:00'],
    fri: ['09:00-18:00'],
    sat: ['10:00-14:00'],
  },
  holidays: ['2026-12-08', '2026-12-25'],
  handoffMessage: 'Our team is away; a colleague will reply here {when}.',
  fallbackMessage: 'Sorry, a colleague will get back to you {when}.',
};

const at = (iso: string) => new Date(iso);

describe('opening times', () => {
  it.each([
    // Madrid is UTC+1 in winter: 08:30Z is 09:30 there.
    ['2026-12-07T08:30:00Z', true, 'Monday morning'],
    ['2026-12-07T12:30:00Z', false, 'Monday lunch break (13:30)'],
    ['2026-12-07T13:00:00Z', true, 'Monday 14:00 sharp'],
    ['2026-12-07T17:00:00Z', false, 'Monday 18:00: the range ends'],
    ['2026-12-08T10:00:00Z', false, 'a holiday Tuesday'],
    ['2026-12-06T11:00:00Z', false, 'Sunday'],
    ['2026-12-05T12:00:00Z', true, 'Saturday 13:00'],
  ])('%s is %s (%s)', (iso, open) => {
    expect(isOpen(hours, at(iso))).toBe(open);
  });

  it.each([
    ['2026-12-04T20:00:00Z', '2026-12-05T09:00:00.000Z', 'Friday night → Saturday 10:00'],
    ['2026-12-05T16:00:00Z', '2026-12-07T08:00:00.000Z', 'Saturday afternoon → Monday 09:00'],
    ['2026-12-07T12:30:00Z', '2026-12-07T13:00:00.000Z', 'lunch break → 14:00 the same day'],
    ['2026-12-07T21:00:00Z', '2026-12-09T08:00:00.000Z', 'Monday night, Tuesday a holiday → Wednesday'],
    ['2026-03-28T22:00:00Z', '2026-03-30T07:00:00.000Z', 'across the spring clock change: 09:00 is 07:00Z'],
    ['2026-12-07T08:30:00Z', null, 'open now'],
  ] as [string, string | null, string][])('%s → %s (%s)', (iso, expected) => {
    expect(nextOpening(hours, at(iso))?.toISOString() ?? null).toBe(expected);
  });

  it('property: the next opening is open, and nothing between now and it is', () => {
    fc.assert(
      fc.property(
        fc.date({ min: at('2026-01-01T00:00:00Z'), max: at('2027-12-31T00:00:00Z'), noInvalidDate: true }),
        (now) => {
          const next = nextOpening(hours, now);
          if (next === null) {
            expect(isOpen(hours, now)).toBe(true);
            return;
          }
          expect(isOpen(hours, now)).toBe(false);
          expect(next.getTime()).toBeGreaterThan(now.getTime());
          expect(isOpen(hours, next)).toBe(true);
          expect(isOpen(hours, new Date(next.getTime() - 60_000))).toBe(false);
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('the next opening in words, in the customer language and the business time zone', () => {
  it.each([
    ['2026-12-05T16:00:00Z', 'en', 'on Monday at 9:00 AM'],
    ['2026-12-05T16:00:00Z', 'es', 'el lunes a las 9:00'],
    ['2026-12-05T16:00:00Z', 'pt', 'na segunda-feira às 9:00'],
    ['2026-12-04T20:00:00Z', 'en', 'tomorrow at 10:00 AM'],
    ['2026-12-04T20:00:00Z', 'es', 'mañana a las 10:00'],
    ['2026-12-04T20:00:00Z', 'pt', 'amanhã às 10:00'],
    ['2026-12-07T12:30:00Z', 'en', 'today at 2:00 PM'],
    ['2026-12-07T12:30:00Z', 'es', 'hoy a las 14:00'],
    ['2026-12-07T12:30:00Z', 'pt', 'hoje às 14:00'],
    ['2026-12-07T21:00:00Z', 'en', 'on Wednesday at 9:00 AM'],
  ])('at %s in %s: %s', (iso, lang, expected) => {
    const now = at(iso);
    expect(describeOpening(nextOpening(hours, now)!, now, lang, hours.timeZone)).toBe(expected);
  });

  it('Portuguese weekend days take "no"; a week or more away adds the date', () => {
    const sundays: BusinessHours = { ...hours, weekly: { sun: ['10:00-12:00'] }, holidays: [] };
    const now = at('2026-12-07T12:00:00Z');
    expect(describeOpening(nextOpening(sundays, now)!, now, 'pt', hours.timeZone)).toBe(
      'no domingo às 10:00',
    );
    const sundayOnly: BusinessHours = { ...sundays, holidays: ['2026-12-13'] };
    const later = at('2026-12-12T12:00:00Z');
    const afterHoliday = nextOpening(sundayOnly, later)!;
    expect(afterHoliday.toISOString()).toBe('2026-12-20T09:00:00.000Z');
    expect(describeOpening(afterHoliday, later, 'en', hours.timeZone)).toBe(
      'on Sunday, December 20 at 10:00 AM',
    );
    expect(describeOpening(afterHoliday, later, 'es', hours.timeZone)).toBe(
      'el domingo, 20 de diciembre a las 10:00',
    );
  });

  it('a language without its own phrasing gets the locale date format', () => {
    const now = at('2026-12-05T16:00:00Z');
    expect(describeOpening(nextOpening(hours, now)!, now, 'fr', hours.timeZone)).toBe('lundi 09:00');
  });
});

describe('fixed texts with business hours', () => {
  const shipped = loadPersona(resolve(import.meta.dirname, '../../persona.json'));
  const persona: Persona = parsePersona({
    ...JSON.parse(JSON.stringify(shipped)),
    businessHours: { ...shipped.businessHours, ...hours },
  });

  it('while open, the handoff and fallback messages are the usual ones', () => {
    const now = at('2026-12-07T08:30:00Z');
    expect(fixedText(persona, 'handoffMessage', 'en', now)).toBe(persona.handoff.message);
    expect(fixedText(persona, 'fallbackMessage', 'es', now)).toBe(persona.translations.es!.fallbackMessage);
    expect(nextPersonAvailable(persona, now)).toBeNull();
  });

  it('while closed, they say when a person replies, in the customer language', () => {
    const now = at('2026-12-05T16:00:00Z');
    expect(fixedText(persona, 'handoffMessage', 'en', now)).toBe(
      'Our team is away; a colleague will reply here on Monday at 9:00 AM.',
    );
    expect(fixedText(persona, 'handoffMessage', 'es', now)).toBe(
      persona.translations.es!.afterHoursHandoffMessage!.replace('{when}', 'el lunes a las 9:00'),
    );
    expect(fixedText(persona, 'fallbackMessage', 'pt', now)).toBe(
      persona.translations.pt!.afterHoursFallbackMessage!.replace('{when}', 'na segunda-feira às 9:00'),
    );
    // Texts that promise nothing stay as they are.
    expect(fixedText(persona, 'optOutConfirmation', 'pt', now)).toBe(
      persona.translations.pt!.optOutConfirmation,
    );
    expect(nextPersonAvailable(persona, now)?.toISOString()).toBe('2026-12-07T08:00:00.000Z');
  });

  it('the shipped persona answers around the clock, so its handoff message never names a time', () => {
    fc.assert(
      fc.property(
        fc.date({ min: at('2026-01-01T00:00:00Z'), max: at('2030-01-01T00:00:00Z'), noInvalidDate: true }),
        (now) => {
          expect(fixedText(shipped, 'handoffMessage', 'en', now)).toBe(shipped.handoff.message);
        },
      ),
      { numRuns: 200 },
    );
  });
});
