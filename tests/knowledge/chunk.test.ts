import { describe, expect, it } from 'vitest';
import { AppError } from '../../server/errors';
import { cut, passageLabel, splitDocument } from '../../server/knowledge/chunk';

describe('splitting documents into passages', () => {
  it('opens a passage at each Markdown heading and keeps the heading path', () => {
    const md = [
      '# Delivery policy',
      'We deliver in the city.',
      '',
      '## Weekends',
      'We deliver on Saturdays and Sundays, 9:00 to 14:00.',
      '',
      '### Holidays',
      'No deliveries on public holidays.',
      '## Costs',
      'Delivery is free above 50 EUR.',
      '# Returns',
      'Returns within 30 days.',
    ].join('\n');
    const passages = splitDocument('markdown', md, 1000);
    expect(passages).toEqual([
      { heading: 'Delivery policy', text: 'We deliver in the city.' },
      { heading: 'Delivery policy > Weekends', text: 'We deliver on Saturdays and Sundays, 9:00 to 14:00.' },
      { heading: 'Delivery policy > Weekends > Holidays', text: 'No deliveries on public holidays.' },
      { heading: 'Delivery policy > Costs', text: 'Delivery is free above 50 EUR.' },
      { heading: 'Returns', text: 'Returns within 30 days.' },
    ]);
  });

  it('packs short paragraphs of one section together up to the cap, never across headings', () => {
    const md = ['# A', 'one one one.', '', 'two two two.', '', 'three three three.', '# B', 'four.'].join(
      '\n',
    );
    expect(splitDocument('markdown', md, 30)).toEqual([
      { heading: 'A', text: 'one one one.\n\ntwo two two.' },
      { heading: 'A', text: 'three three three.' },
      { heading: 'B', text: 'four.' },
    ]);
  });

  it('does not read "#" lines inside a code fence as headings', () => {
    const md = ['# Setup', '```', '# not a heading', 'echo hi', '```'].join('\n');
    const passages = splitDocument('markdown', md, 1000);
    expect(passages).toHaveLength(1);
    expect(passages[0]!.heading).toBe('Setup');
    expect(passages[0]!.text).toContain('# not a heading');
  });

  it('splits plain text on paragraphs only, with no headings', () => {
    const passages = splitDocument('text', '# Not a heading here\n\nSecond paragraph.', 20);
    expect(passages).toEqual([
      { heading: null, text: '# Not a heading here' },
      { heading: null, text: 'Second paragraph.' },
    ]);
  });

  it('cuts a paragraph longer than the cap on sentences, then words, never tearing a surrogate pair', () => {
    const long = 'We open at nine. We close at six. Saturdays we close at two. Sundays we are closed.';
    const parts = cut(long, 40);
    expect(parts.every((p) => p.length <= 40)).toBe(true);
    expect(parts.join(' ')).toBe(long);
    expect(parts[0]).toBe('We open at nine. We close at six.');
    const words = cut('word '.repeat(50).trim(), 23);
    expect(words.every((p) => p.length <= 23 && !p.startsWith(' '))).toBe(true);
    const emoji = cut('😀'.repeat(30), 7);
    expect(emoji.join('')).toBe('😀'.repeat(30));
    expect(emoji.every((p) => p.length <= 7 && !/\p{Surrogate}/u.test(p.replace(/😀/g, '')))).toBe(true);
  });

  it('gives one passage per question/answer CSV row, the question as its heading', () => {
    const csv = 'question,answer\n"Do you deliver on Sundays?","Yes, 9:00 to 14:00."\nIs parking free?,Yes\n';
    expect(splitDocument('csv', csv, 1000)).toEqual([
      {
        heading: 'Do you deliver on Sundays?',
        text: 'Q: Do you deliver on Sundays?\nA: Yes, 9:00 to 14:00.',
      },
      { heading: 'Is parking free?', text: 'Q: Is parking free?\nA: Yes' },
    ]);
    // Two columns without a header, semicolon-separated.
    expect(splitDocument('csv', 'Open on Monday?;From 9 to 6', 1000)).toEqual([
      { heading: 'Open on Monday?', text: 'Q: Open on Monday?\nA: From 9 to 6' },
    ]);
  });

  it('refuses a CSV without question/answer columns, a row missing its answer, and a document with no text', () => {
    const refused = (f: () => unknown) => {
      try {
        f();
      } catch (err) {
        expect(err).toBeInstanceOf(AppError);
        return (err as AppError).message;
      }
      throw new Error('not refused');
    };
    expect(refused(() => splitDocument('csv', 'a,b,c\n1,2,3', 1000))).toMatch(/question.*answer/);
    expect(refused(() => splitDocument('csv', 'question,answer\nOpen?,', 1000))).toMatch(/line 2/);
    expect(refused(() => splitDocument('markdown', '# Only a heading\n\n', 1000))).toMatch(/no text/);
  });

  it('labels a passage with its title and 1-based place', () => {
    expect(passageLabel('Delivery policy', 1)).toBe('Delivery policy §2');
  });
});
