/**
 * Invisible characters that never separate words: format characters (zero-width space and joiners,
 * soft hyphen, direction marks, BOM), control characters other than whitespace (NUL included) and
 * lone surrogates. "st\u200Bop" is "stop".
 */
const INVISIBLE = /(?![\t-\r])[\p{Cf}\p{Cc}\p{Cs}]/gu;

/** Lower-cased, accent-free, punctuation-free text for keyword matching. */
export function normalize(text: string): string {
  return text
    .replace(INVISIBLE, '')
    .normalize('NFKD')
    .replace(/\p{M}/gu, '')
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s]/gu, ' ')
    .replace(/\s+/g, ' ')
    .trim();
}

/** Opt-out and opt-in words count only as the whole message ("STOP", "stop!"), never inside a sentence. */
export function isExactKeyword(text: string, keywords: string[]): boolean {
  const t = normalize(text);
  return t.length > 0 && keywords.some((k) => normalize(k) === t);
}

/** Handoff phrases count anywhere in the message, on word boundaries ("can I talk to a human?"). */
export function containsPhrase(text: string, phrases: string[]): boolean {
  const t = ` ${normalize(text)} `;
  return phrases.some((p) => {
    const n = normalize(p);
    return n.length > 0 && t.includes(` ${n} `);
  });
}
