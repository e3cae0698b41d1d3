import { describe, expect, it } from 'vitest';
import { splitReply } from '../../server/conversation/split';

const roomy = { maxChars: 1000, maxParts: 10 };

function wordsOf(text: string): string[] {
  return text.split(/\s+/).filter((w) => w !== '');
}

describe('splitReply', () => {
  it('returns no parts for empty or whitespace-only text', () => {
    expect(splitReply('', roomy)).toEqual([]);
    expect(splitReply('   \n\n\t  \r\n ', roomy)).toEqual([]);
  });

  it('returns short text as one trimmed part', () => {
    expect(splitReply('  Hello there!  \n', roomy)).toEqual(['Hello there!']);
  });

  it('keeps text of exactly maxChars in one part and splits at maxChars + 1', () => {
    const exact = 'abcd efgh ij'; // 12 characters
    expect(splitReply(exact, { maxChars: 12, maxParts: 5 })).toEqual([exact]);
    expect(splitReply(exact, { maxChars: 11, maxParts: 5 })).toEqual(['abcd efgh', 'ij']);
  });

  it('merges small consecutive paragraphs into one part while they fit', () => {
    const text = 'First para.\n\nSecond para.\n\nThird para.';
    expect(splitReply(text, roomy)).toEqual(['First para.\n\nSecond para.\n\nThird para.']);
    // 'First para.\n\nSecond para.' is 25 characters.
    expect(splitReply(text, { maxChars: 25, maxParts: 5 })).toEqual([
      'First para.\n\nSecond para.',
      'Third para.',
    ]);
    expect(splitReply(text, { maxChars: 24, maxParts: 5 })).toEqual([
      'First para.',
      'Second para.',
      'Third para.',
    ]);
  });

  it('normalises runs of blank lines and CRLF between paragraphs', () => {
    const text = 'One.\r\n\r\n\r\n  \r\nTwo.\n \t\nThree.';
    expect(splitReply(text, roomy)).toEqual(['One.\n\nTwo.\n\nThree.']);
  });

  it('keeps single line breaks inside a paragraph (lists)', () => {
    const text = 'Our hours:\n- Mon to Fri: 9 to 18\n- Sat: 10 to 14';
    expect(splitReply(text, roomy)).toEqual([text]);
  });

  it('prefers a paragraph break over filling a part with half a paragraph', () => {
    const p1 = 'Short intro.';
    const p2 = 'This second paragraph is a bit longer. It has two sentences.';
    const parts = splitReply(`${p1}\n\n${p2}`, { maxChars: 62, maxParts: 5 });
    expect(parts).toEqual([p1, p2]);
  });

  it('splits a long paragraph between sentences', () => {
    const text = 'The first sentence is here. The second one follows! Is this the third? Yes it is.';
    const parts = splitReply(text, { maxChars: 40, maxParts: 10 });
    expect(parts).toEqual([
      'The first sentence is here.',
      'The second one follows!',
      'Is this the third? Yes it is.',
    ]);
  });

  it('treats a line break inside a long paragraph as a sentence boundary and keeps it when re-joining', () => {
    const text = 'Line one without a stop\nline two without a stop\nline three';
    expect(splitReply(text, { maxChars: 48, maxParts: 5 })).toEqual([
      'Line one without a stop\nline two without a stop',
      'line three',
    ]);
  });

  it('splits a long sentence between words, never inside one', () => {
    const text = 'alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu';
    const parts = splitReply(text, { maxChars: 20, maxParts: 20 });
    expect(parts).toEqual(['alpha beta gamma', 'delta epsilon zeta', 'eta theta iota kappa', 'lambda mu']);
    for (const part of parts) expect(part.length).toBeLessThanOrEqual(20);
    expect(wordsOf(parts.join(' '))).toEqual(wordsOf(text));
  });

  it('hard-cuts a single word longer than maxChars', () => {
    const url = `https://example.com/${'x'.repeat(30)}`; // 50 characters
    const parts = splitReply(`See ${url} now`, { maxChars: 20, maxParts: 10 });
    expect(parts.every((p) => p.length <= 20)).toBe(true);
    expect(parts.join('').replace(/\s+/g, '')).toBe(`See${url}now`);
    // The cut pieces are contiguous in order.
    expect(parts.join(' ')).toContain('https://example.com/');
  });

  it('never splits an emoji, a flag or a combining sequence', () => {
    const family = '👨‍👩‍👧‍👦'; // 11 UTF-16 units, one grapheme
    const flag = '🇧🇷'; // 4 units
    const accented = 'e\u0301'; // 2 units
    const word = `${family}${flag}${accented}${family}`;
    const parts = splitReply(word, { maxChars: 12, maxParts: 10 });
    expect(parts).toEqual([family, `${flag}${accented}`, family]);
    expect(parts.join('')).toBe(word);
  });

  it('keeps a single grapheme longer than maxChars whole', () => {
    expect(splitReply('👍🏽👍🏽', { maxChars: 3, maxParts: 10 })).toEqual(['👍🏽', '👍🏽']);
  });

  it('counts UTF-16 units, so emoji-heavy text stays within the limit', () => {
    const text = Array.from({ length: 30 }, (_, i) => `${i}😀`).join(' ');
    const parts = splitReply(text, { maxChars: 25, maxParts: 30 });
    for (const part of parts) expect(part.length).toBeLessThanOrEqual(25);
    expect(wordsOf(parts.join(' '))).toEqual(wordsOf(text));
  });

  it('handles text without spaces (CJK) by sentences and then by characters', () => {
    const text = '你好。我想预约明天的时间。可以吗？';
    const parts = splitReply(text, { maxChars: 8, maxParts: 10 });
    for (const part of parts) expect(part.length).toBeLessThanOrEqual(8);
    expect(parts.join('')).toBe(text);
    expect(parts[0]).toBe('你好。');
  });

  it('packs densely when the preferred breaks would exceed maxParts', () => {
    const text = 'aaa bbb.\n\nccc ddd.\n\neee fff.';
    // Preferred: one paragraph per part (3 parts); dense: 2 parts that each fit.
    expect(splitReply(text, { maxChars: 15, maxParts: 3 })).toEqual(['aaa bbb.', 'ccc ddd.', 'eee fff.']);
    const dense = splitReply(text, { maxChars: 15, maxParts: 2 });
    expect(dense).toHaveLength(2);
    for (const part of dense) expect(part.length).toBeLessThanOrEqual(15);
    expect(wordsOf(dense.join(' '))).toEqual(wordsOf(text));
  });

  it('puts the remainder in the last part when the text cannot fit in maxParts parts', () => {
    const text = 'one two three four five six seven eight nine ten';
    const parts = splitReply(text, { maxChars: 10, maxParts: 3 });
    expect(parts).toHaveLength(3);
    expect(parts[0]!.length).toBeLessThanOrEqual(10);
    expect(parts[1]!.length).toBeLessThanOrEqual(10);
    expect(parts[2]!.length).toBeGreaterThan(10);
    // Nothing is lost and the order is kept.
    expect(wordsOf(parts.join(' '))).toEqual(wordsOf(text));
    expect(parts).toEqual(['one two', 'three four', 'five six seven eight nine ten']);
  });

  it('with maxParts 1 returns the whole text in one part', () => {
    const text = 'Para one.\n\nPara two is here.';
    expect(splitReply(text, { maxChars: 5, maxParts: 1 })).toEqual([text]);
  });

  it('keeps paragraph separators inside an overflowing last part', () => {
    const parts = splitReply('aaaa\n\nbbbb\n\ncccc', { maxChars: 4, maxParts: 2 });
    expect(parts).toEqual(['aaaa', 'bbbb\n\ncccc']);
  });

  it('rejects invalid limits', () => {
    expect(() => splitReply('x', { maxChars: 0, maxParts: 1 })).toThrow(RangeError);
    expect(() => splitReply('x', { maxChars: 10, maxParts: 0 })).toThrow(RangeError);
    expect(() => splitReply('x', { maxChars: 1.5, maxParts: 1 })).toThrow(RangeError);
    expect(() => splitReply('x', { maxChars: Number.NaN, maxParts: 1 })).toThrow(RangeError);
  });

  it('keeps every word and respects the limit on generated replies', () => {
    // Deterministic pseudo-random text: words of 1-12 letters, sentences, line breaks and paragraphs.
    let seed = 42;
    const next = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    for (let round = 0; round < 200; round++) {
      let text = '';
      const wordCount = 1 + Math.floor(next() * 120);
      for (let i = 0; i < wordCount; i++) {
        const length = 1 + Math.floor(next() * 12);
        text += 'abcdefghijklmnopqrstuvwxyzé😀'.slice(0, length);
        const r = next();
        text += r < 0.08 ? '.\n\n' : r < 0.15 ? '. ' : r < 0.2 ? '\n' : ' ';
      }
      const maxChars = 14 + Math.floor(next() * 120);
      const parts = splitReply(text, { maxChars, maxParts: 1000 });
      for (const part of parts) {
        expect(part.length, `round ${round}`).toBeLessThanOrEqual(maxChars);
        expect(part).toBe(part.trim());
        expect(part).not.toBe('');
      }
      expect(wordsOf(parts.join(' ')), `round ${round}`).toEqual(wordsOf(text));
    }
  });
});
