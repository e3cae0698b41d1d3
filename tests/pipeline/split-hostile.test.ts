import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { splitReply } from '../../server/conversation/split';

/**
 * splitReply over hostile text: NUL and other controls, lone surrogates, emoji sequences, flags,
 * combining marks, every kind of whitespace, and strings far longer than any reply.
 */

const graphemes = new Intl.Segmenter('en', { granularity: 'grapheme' });
const isGrapheme = (s: string) => [...graphemes.segment(s)].length === 1;
const wellFormed = (s: string) => !/\p{Surrogate}/u.test(s);
const nonSpace = (s: string) => s.replace(/\s/gu, '');

/** Pieces of words that attack a splitter (no whitespace, no sentence punctuation). */
const wordUnit = fc.constantFrom(
  'a',
  'Z',
  'é',
  'e\u0301',
  'a\u0301\u0302\u0303\u0304',
  '漢',
  '\u0000',
  '\u0007',
  '\u200d',
  '\u200b',
  '😀',
  '👍🏽',
  '👨‍👩‍👧‍👦',
  '🇧🇷',
  '\u{1F1E7}',
  '\uFE0F',
  '\u00ad',
);
const loneSurrogate = fc.integer({ min: 0xd800, max: 0xdfff }).map((c) => String.fromCharCode(c));
const separator = fc.constantFrom(
  ' ',
  '  ',
  '\n',
  '\n\n',
  '\r\n',
  '\t',
  '\u00a0',
  '\u2028',
  '\u3000',
  '. ',
  '! ',
  '? ',
  '.',
  '。',
);

const wellFormedText = fc.string({
  unit: fc.oneof({ weight: 5, arbitrary: wordUnit }, separator),
  maxLength: 400,
});
const hostileText = fc.string({
  unit: fc.oneof(
    { weight: 5, arbitrary: wordUnit },
    separator,
    loneSurrogate,
    fc.string({ unit: 'binary', maxLength: 2 }),
  ),
  maxLength: 400,
});
const limits = fc.record({
  maxChars: fc.integer({ min: 1, max: 120 }),
  maxParts: fc.integer({ min: 1, max: 30 }),
});

function checkInvariants(text: string, maxChars: number, maxParts: number) {
  const parts = splitReply(text, { maxChars, maxParts });
  expect(parts.length).toBeLessThanOrEqual(maxParts);
  for (const part of parts) {
    expect(part).not.toBe('');
    expect(part).toBe(part.trim());
  }
  // Nothing but whitespace is ever dropped or reordered.
  expect(nonSpace(parts.join(''))).toBe(nonSpace(text));
  parts.forEach((part, i) => {
    const overflowTail = i === maxParts - 1 && i === parts.length - 1;
    if (!overflowTail && part.length > maxChars) expect(isGrapheme(part)).toBe(true);
  });
  return parts;
}

/** The reference grapheme cut: every grapheme of the whole word, packed greedily. */
function greedyGraphemes(word: string, maxChars: number): string[] {
  const out: string[] = [];
  let current = '';
  for (const { segment } of graphemes.segment(word)) {
    if (current !== '' && current.length + segment.length > maxChars) {
      out.push(current);
      current = '';
    }
    current += segment;
  }
  if (current !== '') out.push(current);
  return out;
}

describe('splitReply with hostile text', () => {
  it('property: never more than maxParts, nothing but whitespace lost, parts within the limit', () => {
    fc.assert(
      fc.property(hostileText, limits, (text, { maxChars, maxParts }) => {
        checkInvariants(text, maxChars, maxParts);
      }),
      { numRuns: 500 },
    );
  });

  it('property: the same holds for texts longer than the segmentation window', () => {
    const long = fc.string({
      unit: fc.oneof({ weight: 5, arbitrary: wordUnit }, separator, loneSurrogate),
      minLength: 1000,
      maxLength: 4000,
    });
    fc.assert(
      fc.property(long, limits, (text, { maxChars, maxParts }) => {
        checkInvariants(text, maxChars, maxParts);
      }),
      { numRuns: 100 },
    );
  });

  it('property: well-formed text never comes out with a torn surrogate pair or grapheme', () => {
    fc.assert(
      fc.property(wellFormedText, limits, (text, { maxChars, maxParts }) => {
        const parts = checkInvariants(text, maxChars, maxParts);
        for (const part of parts) expect(wellFormed(part)).toBe(true);
        // Every grapheme of every part is a grapheme of the input: none was cut in two.
        // (A part may start with a cluster whose whitespace base was trimmed away.)
        const source = new Set(
          [...graphemes.segment(text)].flatMap((g) => [g.segment, g.segment.trimStart()]),
        );
        for (const part of parts) {
          for (const { segment } of graphemes.segment(part)) {
            if (!/\s/u.test(segment)) expect(source.has(segment)).toBe(true);
          }
        }
      }),
      { numRuns: 500 },
    );
  });

  it('property: a word longer than the limit is cut exactly like a greedy packing of its graphemes', () => {
    fc.assert(
      fc.property(
        fc.string({
          unit: fc.oneof({ weight: 4, arbitrary: wordUnit }, loneSurrogate),
          minLength: 1,
          maxLength: 600,
        }),
        fc.integer({ min: 1, max: 80 }),
        (word, maxChars) => {
          const parts = splitReply(word, { maxChars, maxParts: 10_000 });
          expect(parts).toEqual(
            greedyGraphemes(word, maxChars)
              .map((p) => p.trim())
              .filter((p) => p !== ''),
          );
        },
      ),
      { numRuns: 500 },
    );
  });

  it('a grapheme longer than the window used for cutting is kept whole', () => {
    const zalgo = `a${'\u0301'.repeat(5000)}`;
    expect(splitReply(`${zalgo}b${zalgo}`, { maxChars: 50, maxParts: 10 })).toEqual([
      zalgo,
      `b${zalgo}`.slice(0, 1),
      zalgo,
    ]);
  });

  it('megabytes without spaces, of sentences, of words and of whitespace are split in linear time', () => {
    const limitsOf = { maxChars: 700, maxParts: 4 };
    const cases = [
      'x'.repeat(1_000_000),
      '漢'.repeat(1_000_000),
      '👨‍👩‍👧‍👦'.repeat(100_000),
      'Hi there. '.repeat(100_000),
      'word '.repeat(200_000),
      `a${' '.repeat(1_000_000)}b`,
      `${'\n \n'.repeat(300_000)}x`,
      '\u0000'.repeat(1_000_000),
      '\ud800'.repeat(1_000_000),
    ];
    for (const text of cases) {
      const parts = checkInvariants(text, limitsOf.maxChars, limitsOf.maxParts);
      expect(parts.length).toBeGreaterThan(0);
    }
  });
});
