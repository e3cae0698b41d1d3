import { resolve } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { loadPersona } from '../../server/persona';
import { asksForPerson, isExactKeyword, normalize } from '../../server/pipeline/keywords';

/** Keyword matching over hostile text: NUL and invisible characters, lone surrogates, huge strings. */

const persona = loadPersona(resolve(import.meta.dirname, '../../persona.json'));
const exactWords = [...persona.optOut.keywords, ...persona.optOut.optInKeywords];
const handoffKeywords = persona.handoff.keywords;

const loneSurrogate = fc.integer({ min: 0xd800, max: 0xdfff }).map((c) => String.fromCharCode(c));
const invisible = fc.constantFrom(
  '\u0000',
  '\u0007',
  '\u200b',
  '\u200c',
  '\u200d',
  '\u200e',
  '\u200f',
  '\u00ad',
  '\ufeff',
  '\u2060',
  '\ud800',
  '\udfff',
);
const punctuation = fc.constantFrom('!', '?', '.', ',', '¡', '¿', '"', '*', '~', '…', '🙏', '👍🏽');
const space = fc.constantFrom(' ', '\n', '\t', '\u00a0', '\u2028', '\u3000', '\r\n');
const hostile = fc.string({
  unit: fc.oneof(fc.string({ unit: 'binary', maxLength: 3 }), invisible, punctuation, space, loneSurrogate),
  maxLength: 80,
});
const decoration = fc.string({ unit: fc.oneof(invisible, punctuation, space), maxLength: 6 });

/** Changes the case of some letters and sprinkles invisible characters between them. */
const disguise = (word: string) =>
  fc
    .tuple(
      fc.array(fc.boolean(), { minLength: word.length, maxLength: word.length }),
      fc.array(fc.option(invisible, { freq: 3 }), { minLength: word.length, maxLength: word.length }),
    )
    .map(([upper, extra]) =>
      [...word].map((c, i) => (upper[i] ? c.toUpperCase() : c) + (extra[i] ?? '')).join(''),
    );

describe('keyword matching with hostile text', () => {
  it('property: normalize is total and idempotent, and yields only lowercase letters, digits and single spaces', () => {
    fc.assert(
      fc.property(hostile, (text) => {
        const n = normalize(text);
        expect(normalize(n)).toBe(n);
        expect(n).toBe(n.trim());
        expect(n).not.toMatch(/\s\s|[^\p{L}\p{N} ]|\p{Surrogate}/u);
      }),
      { numRuns: 1000 },
    );
  });

  it('property: an opt-out or opt-in word is recognised in any case, among punctuation, spaces and invisible characters', () => {
    fc.assert(
      fc.property(
        fc
          .constantFrom(...exactWords)
          .chain((k) => fc.tuple(fc.constant(k), disguise(k), decoration, decoration)),
        ([keyword, disguised, before, after]) => {
          expect(isExactKeyword(`${before}${disguised}${after}`, [keyword])).toBe(true);
        },
      ),
      { numRuns: 1000 },
    );
  });

  it('"st\\u200Bop" and "STOP" with a NUL or a soft hyphen inside are still STOP', () => {
    for (const text of ['st\u200bop', 'S\u0000TOP', 'sto\u00adp', '\ufeffstop', 'stop\u200f', 'st\ud800op']) {
      expect(isExactKeyword(text, ['stop']), JSON.stringify(text)).toBe(true);
    }
  });

  it('property: a request for a person is recognised among hostile text in other clauses, however disguised', () => {
    fc.assert(
      fc.property(
        hostile,
        hostile,
        fc
          .constantFrom('talk to a human', 'quiero hablar con una persona', 'posso falar com um atendente')
          .chain((p) => disguise(p)),
        (before, after, request) => {
          expect(asksForPerson(`${before}. ${request}, ${after}`, handoffKeywords)).toBe(true);
        },
      ),
      { numRuns: 500 },
    );
  });

  it('property: phrases and keywords that normalise to nothing never match', () => {
    fc.assert(
      fc.property(hostile, decoration, (text, keyword) => {
        fc.pre(normalize(keyword) === '');
        expect(isExactKeyword(text, [keyword])).toBe(false);
        expect(asksForPerson(text, [keyword])).toBe(asksForPerson(text, []));
      }),
    );
  });

  it('megabytes of text, invisible characters or expanding ligatures are handled', () => {
    const big = [
      `${'\u0000'.repeat(1_000_000)}STOP`,
      `${'\ud800'.repeat(1_000_000)} talk to someone`,
      '\ufdfa'.repeat(200_000),
      `${'word '.repeat(200_000)}human`,
      `${'word '.repeat(200_000)}. Human!`,
    ];
    expect(big.map((t) => isExactKeyword(t, ['stop']))).toEqual([true, false, false, false, false]);
    // A person word at the end of a long sentence is not a request; the same word alone is.
    expect(big.map((t) => asksForPerson(t, handoffKeywords))).toEqual([false, true, false, false, true]);
  });
});
