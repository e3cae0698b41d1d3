/**
 * Splits a bot reply into WhatsApp-sized messages.
 *
 * Rules, in order of preference:
 * 1. Break between paragraphs (blank lines); consecutive paragraphs share a part while they fit.
 * 2. A paragraph longer than `maxChars` breaks between sentences (a line break also ends a sentence).
 * 3. A sentence longer than `maxChars` breaks between words.
 * 4. A word longer than `maxChars` is cut, between graphemes, so no emoji or accented letter is torn apart.
 * Parts are trimmed; empty parts are dropped. Lengths are UTF-16 code units (`string.length`), an upper bound
 * on both code points and graphemes. A single grapheme longer than `maxChars` (only with a tiny limit) is kept
 * whole in its own part.
 *
 * When the preferred breaks produce more than `maxParts` parts, the text is packed densely instead (as many
 * words per part as fit, ignoring paragraph and sentence preferences) so every part still fits. If even that
 * needs more than `maxParts` parts, the first `maxParts - 1` parts are kept and the last part carries all the
 * remaining text, which then exceeds `maxChars`: no text is ever dropped.
 */

export interface SplitLimits {
  maxChars: number;
  maxParts: number;
}

/** A piece of text and the whitespace that separated it from the previous piece in the original. */
interface Piece {
  text: string;
  sep: string;
}

const PARAGRAPH_SEP = '\n\n';

const sentenceSegmenter = new Intl.Segmenter('en', { granularity: 'sentence' });
const graphemeSegmenter = new Intl.Segmenter('en', { granularity: 'grapheme' });

/** Separator normalised for output: none, a line break if the original gap had one, otherwise a space. */
function gap(whitespace: string): string {
  if (whitespace === '') return '';
  return whitespace.includes('\n') ? '\n' : ' ';
}

function paragraphs(text: string): Piece[] {
  return text
    .split(/\n[^\S\n]*\n\s*/)
    .map((p) => p.trim())
    .filter((p) => p !== '')
    .map((p, i) => ({ text: p, sep: i === 0 ? '' : PARAGRAPH_SEP }));
}

/**
 * Intl.Segmenter copies its whole input at every step, so iterating a long string costs time quadratic
 * in its length (seconds at 100,000 characters). Segmentation therefore runs over windows of at most
 * this many code units, each starting at a boundary already found.
 */
const WINDOW = 1024;

/** `end`, or one further when it would split a surrogate pair, so a window ends between code points. */
function windowEnd(text: string, end: number): number {
  if (end >= text.length) return text.length;
  const code = text.charCodeAt(end - 1);
  return code >= 0xd800 && code <= 0xdbff ? end + 1 : end;
}

/**
 * The sentences of `text`, as `[start, end)` spans. Each window keeps its sentences but the last (which
 * may continue past the window) and the next window starts where that one starts. A sentence longer
 * than a window is found by looking at its first segment only, in windows that double.
 */
function sentenceSpans(text: string): [number, number][] {
  const spans: [number, number][] = [];
  let pos = 0;
  let size = WINDOW;
  while (pos < text.length) {
    const end = windowEnd(text, pos + size);
    const window = text.slice(pos, end);
    if (end === text.length && size === WINDOW) {
      for (const { index, segment } of sentenceSegmenter.segment(window)) {
        spans.push([pos + index, pos + index + segment.length]);
      }
      break;
    }
    if (size === WINDOW) {
      let last = 0;
      for (const { index, segment } of sentenceSegmenter.segment(window)) {
        if (index + segment.length >= window.length) break;
        spans.push([pos + index, pos + index + segment.length]);
        last = index + segment.length;
      }
      if (last > 0) {
        pos += last;
        continue;
      }
    } else {
      const first = sentenceSegmenter.segment(window)[Symbol.iterator]().next().value;
      const length = first?.segment.length ?? window.length;
      if (length < window.length || end === text.length) {
        spans.push([pos, pos + length]);
        pos += length;
        size = WINDOW;
        continue;
      }
    }
    size *= 2;
  }
  return spans;
}

function sentences(text: string): Piece[] {
  const out: Piece[] = [];
  let pendingSep = '';
  for (const [start, end] of sentenceSpans(text)) {
    const segment = text.slice(start, end);
    const trimmed = segment.trim();
    if (trimmed !== '') {
      const leading = segment.slice(0, segment.length - segment.trimStart().length);
      out.push({ text: trimmed, sep: out.length === 0 ? '' : gap(pendingSep + leading) });
      pendingSep = segment.slice(segment.trimEnd().length);
    } else {
      pendingSep += segment;
    }
  }
  return out;
}

function words(text: string): Piece[] {
  const out: Piece[] = [];
  const re = /(\s*)(\S+)/g;
  for (const match of text.matchAll(re)) {
    out.push({ text: match[2] ?? '', sep: out.length === 0 ? '' : gap(match[1] ?? ' ') });
  }
  return out;
}

/**
 * The end of the longest run of whole graphemes from `pos` (a grapheme boundary) that fits `maxChars`,
 * or the end of the first grapheme when that alone is longer. Looks only at a window after `pos`.
 */
function graphemeEnd(word: string, pos: number, maxChars: number): number {
  if (word.length - pos <= maxChars) return word.length;
  // Grapheme rules look one code point ahead: the boundaries up to maxChars depend on the text up to
  // the code point starting there, whole (two code units).
  const segments = graphemeSegmenter.segment(word.slice(pos, pos + maxChars + 2));
  const start = segments.containing(maxChars)?.index ?? maxChars;
  if (start > 0) return pos + start;
  // One grapheme longer than maxChars: find its end, in windows that double.
  for (let size = 2 * (maxChars + 1); ; size *= 2) {
    const end = windowEnd(word, pos + size);
    const window = word.slice(pos, end);
    const first = graphemeSegmenter.segment(window)[Symbol.iterator]().next().value;
    const length = first?.segment.length ?? window.length;
    // The boundary after the first grapheme is sure once the whole code point after it is in the window.
    if (length < window.length || end === word.length) return pos + length;
  }
}

function graphemeCut(word: string, maxChars: number): Piece[] {
  const out: Piece[] = [];
  for (let pos = 0; pos < word.length; ) {
    const end = graphemeEnd(word, pos, maxChars);
    out.push({ text: word.slice(pos, end), sep: '' });
    pos = end;
  }
  return out;
}

/** Greedy packing: each piece joins the current part (with its separator) while the part stays within the limit. */
function pack(pieces: Piece[], maxChars: number): Piece[] {
  const out: Piece[] = [];
  let current: Piece | null = null;
  for (const piece of pieces) {
    if (current && current.text.length + piece.sep.length + piece.text.length <= maxChars) {
      current.text += piece.sep + piece.text;
    } else {
      if (current) out.push(current);
      current = { text: piece.text, sep: piece.sep };
    }
  }
  if (current) out.push(current);
  return out;
}

type Level = 'sentence' | 'word' | 'grapheme';

/** Breaks `text` into pieces that each fit, preferring coarse boundaries; the first piece inherits `sep`. */
function fitPieces(text: string, sep: string, maxChars: number, level: Level): Piece[] {
  if (text.length <= maxChars) return [{ text, sep }];
  let pieces: Piece[];
  if (level === 'grapheme') pieces = graphemeCut(text, maxChars);
  else {
    const segments = level === 'sentence' ? sentences(text) : words(text);
    const finer: Level = level === 'sentence' ? 'word' : 'grapheme';
    if (segments.length <= 1) return fitPieces(text, sep, maxChars, finer);
    pieces = pack(
      segments.flatMap((s) => fitPieces(s.text, s.sep, maxChars, finer)),
      maxChars,
    );
  }
  const [first, ...rest] = pieces;
  return first ? [{ text: first.text, sep }, ...rest] : [];
}

/** Preferred split: paragraphs, then sentences, then words, then graphemes. */
function preferred(text: string, maxChars: number): Piece[] {
  const units = paragraphs(text).flatMap((p) => fitPieces(p.text, p.sep, maxChars, 'sentence'));
  return pack(units, maxChars);
}

/** Densest split: every word (or grapheme run) packed as tightly as the limit allows. */
function dense(text: string, maxChars: number): Piece[] {
  const tokens = paragraphs(text).flatMap((p, i) =>
    words(p.text).flatMap((w, j) => {
      const sep = j === 0 ? (i === 0 ? '' : PARAGRAPH_SEP) : w.sep;
      return fitPieces(w.text, sep, maxChars, 'grapheme');
    }),
  );
  return pack(tokens, maxChars);
}

function join(pieces: Piece[]): string {
  return pieces.map((p, i) => (i === 0 ? p.text : p.sep + p.text)).join('');
}

export function splitReply(text: string, limits: SplitLimits): string[] {
  const { maxChars, maxParts } = limits;
  if (!Number.isInteger(maxChars) || maxChars < 1)
    throw new RangeError('maxChars must be a positive integer');
  if (!Number.isInteger(maxParts) || maxParts < 1)
    throw new RangeError('maxParts must be a positive integer');

  const normalised = text.replace(/\r\n?/g, '\n').trim();
  if (normalised === '') return [];

  let pieces = preferred(normalised, maxChars);
  if (pieces.length > maxParts) pieces = dense(normalised, maxChars);
  if (pieces.length > maxParts) {
    const head = pieces.slice(0, maxParts - 1);
    const tail = pieces.slice(maxParts - 1);
    pieces = [...head, { text: join(tail), sep: tail[0]?.sep ?? '' }];
  }
  return pieces.map((p) => p.text.trim()).filter((p) => p !== '');
}
