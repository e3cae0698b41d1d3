import { createHash } from 'node:crypto';
import type { KnowledgeFormat } from '../../drizzle/schema/knowledge';
import { readCsvRecords } from '../csv';
import { badRequest } from '../errors';

/** One searchable piece of a document. */
export interface Passage {
  /** The heading path above it ("Delivery > Weekends"), or a Q/A row's question; null at the top. */
  heading: string | null;
  text: string;
}

/** Most passages one document may produce (a larger one is refused: split it into documents). */
export const MAX_PASSAGES_PER_DOCUMENT = 2000;

const HEADING = /^(#{1,6})[ \t]+(.+?)[ \t#]*$/;
const FENCE = /^[ \t]*(```|~~~)/;

/**
 * Splits a document into passages on its structure: Markdown headings open a new section (the passage
 * keeps the path of headings above it), paragraphs (blank-line separated) are kept whole and packed
 * together up to `maxChars`, a paragraph longer than that is split on sentences, then words. A CSV of
 * question/answer pairs gives one passage per row. Throws a BAD_REQUEST when nothing is left.
 */
export function splitDocument(format: KnowledgeFormat, content: string, maxChars: number): Passage[] {
  const passages =
    format === 'csv'
      ? splitQaCsv(content, maxChars)
      : splitSections(content, format === 'markdown', maxChars);
  if (!passages.length) {
    throw badRequest('content: the document has no text', { content: ['has no text'] });
  }
  if (passages.length > MAX_PASSAGES_PER_DOCUMENT) {
    throw badRequest(
      `content: the document makes ${passages.length} passages, more than ${MAX_PASSAGES_PER_DOCUMENT}: split it`,
      { content: ['is too large'] },
    );
  }
  return passages;
}

/** Passages of Markdown (headings and paragraphs) or plain text (paragraphs only). */
function splitSections(content: string, markdown: boolean, maxChars: number): Passage[] {
  const out: Passage[] = [];
  const path: { level: number; text: string }[] = [];
  let paragraphs: string[] = [];
  let current: string[] = [];
  let inFence = false;

  const endParagraph = () => {
    const text = current.join('\n').trim();
    if (text) paragraphs.push(text);
    current = [];
  };
  const endSection = () => {
    endParagraph();
    const heading = path.length ? path.map((h) => h.text).join(' > ') : null;
    for (const text of pack(paragraphs, maxChars)) out.push({ heading, text });
    paragraphs = [];
  };

  for (const line of content.replace(/\r\n?/g, '\n').split('\n')) {
    if (markdown && FENCE.test(line)) inFence = !inFence;
    const heading = markdown && !inFence ? HEADING.exec(line) : null;
    if (heading) {
      endSection();
      const level = heading[1]!.length;
      while (path.length && path.at(-1)!.level >= level) path.pop();
      path.push({ level, text: heading[2]!.trim() });
      continue;
    }
    if (!inFence && line.trim() === '') endParagraph();
    else current.push(line.trimEnd());
  }
  endSection();
  return out;
}

/** Paragraphs packed in order into texts of at most `maxChars`; an oversized one is cut first. */
function pack(paragraphs: string[], maxChars: number): string[] {
  const out: string[] = [];
  let buf = '';
  for (const p of paragraphs.flatMap((p) => cut(p, maxChars))) {
    if (!buf) buf = p;
    else if (buf.length + 2 + p.length <= maxChars) buf += `\n\n${p}`;
    else {
      out.push(buf);
      buf = p;
    }
  }
  if (buf) out.push(buf);
  return out;
}

/** `text` in pieces of at most `maxChars`: on sentence ends where possible, else spaces, else anywhere. */
export function cut(text: string, maxChars: number): string[] {
  if (text.length <= maxChars) return [text];
  const out: string[] = [];
  let rest = text;
  while (rest.length > maxChars) {
    const window = rest.slice(0, maxChars + 1);
    let at = -1;
    for (const m of window.matchAll(/[.!?。！？](?=\s)/g)) at = m.index + 1;
    if (at < maxChars / 3) at = window.lastIndexOf(' ');
    if (at < maxChars / 3) at = maxChars;
    // Never between the halves of a surrogate pair.
    const code = rest.charCodeAt(at - 1);
    if (code >= 0xd800 && code <= 0xdbff) at--;
    out.push(rest.slice(0, at).trim());
    rest = rest.slice(at).trim();
  }
  if (rest) out.push(rest);
  return out.filter(Boolean);
}

const QUESTION = /^(q|question|questions|pergunta|pregunta|frage)$/i;
const ANSWER = /^(a|answer|answers|resposta|respuesta|antwort)$/i;

/**
 * A CSV of question/answer pairs: a header naming the two columns (question/answer, q/a), or two
 * columns without a header. One passage per row: the question is its heading, and its text reads
 * "Q: … A: …" so both are searched.
 */
function splitQaCsv(content: string, maxChars: number): Passage[] {
  const rows = readCsvRecords(content, { field: 'content', what: 'CSV', skipRecordsWithEmptyValues: false });
  if (!rows.length) return [];
  const header = rows[0]!.record.map((c) => c.trim());
  let qi = header.findIndex((c) => QUESTION.test(c));
  let ai = header.findIndex((c) => ANSWER.test(c));
  let body = rows.slice(1);
  if (qi < 0 || ai < 0) {
    if (header.length !== 2) {
      throw badRequest(
        'content: a question/answer CSV needs a header with "question" and "answer" columns (or exactly two columns)',
        { content: ['needs question and answer columns'] },
      );
    }
    qi = 0;
    ai = 1;
    body = rows;
  }
  const out: Passage[] = [];
  for (const { record, line } of body) {
    const question = record[qi]?.trim() ?? '';
    const answer = record[ai]?.trim() ?? '';
    if (!question && !answer) continue;
    if (!question || !answer) {
      throw badRequest(`content: line ${line} needs both a question and an answer`, {
        content: [`line ${line} needs both a question and an answer`],
      });
    }
    const heading = question.length > 300 ? `${question.slice(0, 300)}…` : question;
    for (const text of cut(`Q: ${question}\nA: ${answer}`, maxChars)) out.push({ heading, text });
  }
  return out;
}

/** What is embedded for a passage: the document's title and the heading path give the text its context. */
export function embeddingInput(title: string, p: Passage): string {
  return [p.heading ? `${title} — ${p.heading}` : title, p.text].join('\n');
}

export const contentHash = (input: string) => createHash('sha256').update(input).digest('hex');

/** How a passage is named to people and in stored replies: "Delivery policy §2". */
export const passageLabel = (title: string, position: number) => `${title} §${position + 1}`;
