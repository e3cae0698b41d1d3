import {
  COURTESY,
  FILLERS,
  NEGATIONS,
  NO_NEGATES_BEFORE,
  PERSON_NOUNS,
  PRONOUNS,
  REQUEST_FRAMES,
  TRADE_QUALIFIERS,
  TRAILING_FRAMES,
  WANT_FRAMES,
} from './person-requests';

/**
 * Invisible characters that never separate words: format characters (zero-width space and joiners,
 * soft hyphen, direction marks, BOM), control characters other than whitespace (NUL included) and
 * lone surrogates. "st\u200Bop" is "stop".
 */
const INVISIBLE = /(?![\t-\r])[\p{Cf}\p{Cc}\p{Cs}]/gu;

/** Lower-cased, accent-free, punctuation-free text for keyword matching. */
export function normalize(text: string): string {
  return foldDecomposed(text.replace(INVISIBLE, '').normalize('NFKD'));
}

/** `normalize` for text already stripped of invisible characters and decomposed (NFKD). */
function foldDecomposed(text: string): string {
  return text
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

/** Sentence and clause marks: a request for a person is looked for within one clause. */
const CLAUSE_BREAK = /[.!?;:,\n\r\u2028\u2029¡¿…。！？、]+/u;

/** Words in the order they are matched: each phrase list indexed by its first word, longest first. */
class Phrases {
  private readonly byFirst = new Map<string, string[][]>();
  readonly atClauseStart = new Set<string>();

  constructor(phrases: Iterable<string>) {
    for (const raw of phrases) this.add(raw);
  }

  add(raw: string) {
    const start = raw.startsWith('^');
    const words = normalize(start ? raw.slice(1) : raw)
      .split(' ')
      .filter(Boolean);
    if (!words.length) return;
    const key = words.join(' ');
    if (start) this.atClauseStart.add(key);
    const list = this.byFirst.get(words[0]!) ?? [];
    if (list.some((w) => w.join(' ') === key)) return;
    list.push(words);
    list.sort((a, b) => b.length - a.length);
    this.byFirst.set(words[0]!, list);
  }

  /** The length of the longest phrase that starts at `words[i]`, 0 when none does. */
  match(words: string[], i: number): number {
    const list = this.byFirst.get(words[i] ?? '');
    if (!list) return 0;
    for (const phrase of list) {
      if (i > 0 && this.atClauseStart.has(phrase.join(' '))) continue;
      if (phrase.every((w, k) => words[i + k] === w)) return phrase.length;
    }
    return 0;
  }
}

const talkFrames = new Phrases(REQUEST_FRAMES);
const wantFrames = new Phrases(WANT_FRAMES);
const trailingFrames = new Phrases(TRAILING_FRAMES);
const builtInNouns = new Phrases(PERSON_NOUNS);
const pronouns = new Phrases(PRONOUNS);
const fillers = new Phrases(FILLERS);
const courtesy = new Phrases(COURTESY);
const trades = new Phrases(TRADE_QUALIFIERS);
const negations = new Set(NEGATIONS);
const noNegatesBefore = new Set(NO_NEGATES_BEFORE);

/** The persona's handoff keywords, sorted into whole request phrases and person words. */
interface PersonaWords {
  requests: Phrases;
  nouns: Phrases;
}

const compiled = new WeakMap<readonly string[], PersonaWords>();

function personaWords(keywords: readonly string[]): PersonaWords {
  let words = compiled.get(keywords);
  if (!words) {
    words = { requests: new Phrases([]), nouns: new Phrases([]) };
    for (const k of keywords) {
      const w = normalize(k).split(' ').filter(Boolean);
      if (!w.length) continue;
      const frame = talkFrames.match(w, 0) || wantFrames.match(w, 0);
      if (frame > 0 && frame < w.length) words.requests.add(k);
      else words.nouns.add(k);
    }
    compiled.set(keywords, words);
  }
  return words;
}

/** The length of the person named at `words[i]` (built-in or the persona's), 0 when none is. */
function personAt(words: string[], i: number, persona: PersonaWords): number {
  return Math.max(builtInNouns.match(words, i), persona.nouns.match(words, i));
}

/** Whether a request starting at `words[i]` is turned around ("I don't want", "no quiero"). */
function negated(words: string[], i: number): boolean {
  for (let k = Math.max(0, i - 4); k < i; k++) {
    const w = words[k]!;
    if (negations.has(w)) return true;
    if (w === 'no' && (k === i - 1 || noNegatesBefore.has(words[k + 1]!))) return true;
  }
  return false;
}

/**
 * After a frame ending before `words[j]`: the length up to the end of the person named, skipping
 * a few fillers ("a real", "una"), or 0. A pronoun counts only when `pronounsCount`; a person
 * followed by a trade ("agente de viajes") does not count.
 */
function personAfter(words: string[], j: number, persona: PersonaWords, pronounsCount: boolean): boolean {
  for (let skipped = 0; skipped <= 4 && j < words.length; skipped++) {
    const n = personAt(words, j, persona);
    if (n > 0) {
      if (!pronounsCount && pronouns.match(words, j) === n) return false;
      return trades.match(words, j + n) === 0;
    }
    const f = fillers.match(words, j);
    if (!f) return false;
    j += f;
  }
  return false;
}

/** A clause that is a person and courtesy alone: "a human, please", "Atendente!", "una persona real". */
function personAlone(words: string[], persona: PersonaWords): boolean {
  let i = 0;
  while (i < words.length) {
    const n = personAt(words, i, persona);
    if (n > 0 && pronouns.match(words, i) !== n && trades.match(words, i + n) === 0) {
      let j = i + n;
      for (let c = courtesy.match(words, j); c > 0; c = courtesy.match(words, j)) j += c;
      if (j === words.length) return true;
    }
    const skip = courtesy.match(words, i) || fillers.match(words, i);
    if (!skip) return false;
    i += skip;
  }
  return false;
}

function clauseAsks(words: string[], persona: PersonaWords): boolean {
  if (personAlone(words, persona)) return true;
  for (let i = 0; i < words.length; i++) {
    const request = persona.requests.match(words, i);
    if (request > 0 && !negated(words, i)) return true;
    const talk = talkFrames.match(words, i);
    if (talk > 0 && personAfter(words, i + talk, persona, true) && !negated(words, i)) return true;
    const want = wantFrames.match(words, i);
    if (want > 0 && personAfter(words, i + want, persona, false) && !negated(words, i)) return true;
    const person = personAt(words, i, persona);
    if (person > 0 && trailingFrames.match(words, i + person) > 0 && !negated(words, i)) return true;
  }
  return false;
}

/**
 * Whether the message asks for a person, in English, Spanish or Portuguese, clause by clause:
 * a request frame and a person ("can I talk to a human?", "quiero hablar con una persona",
 * "posso falar com um atendente?"), a person and a trailing frame ("una persona que me atienda"),
 * or a person alone with courtesy ("Agent, please"). A person word inside an unrelated sentence
 * ("I'm a travel agent", "el agente de viajes") and a request turned around ("I don't want a
 * human") do not count. The persona's `handoff.keywords` extend the grammar: a keyword that starts
 * with a request frame ("talk to someone") is a request phrase on its own; any other keyword
 * ("operator", "vendedor") is one more person word.
 */
export function asksForPerson(text: string, keywords: readonly string[] = []): boolean {
  const persona = personaWords(keywords);
  const clauses = text.replace(INVISIBLE, '').normalize('NFKD').split(CLAUSE_BREAK);
  for (const clause of clauses) {
    const n = foldDecomposed(clause);
    if (n && clauseAsks(n.split(' '), persona)) return true;
  }
  return false;
}
