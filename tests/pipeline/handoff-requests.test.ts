import { resolve } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { loadPersona } from '../../server/persona';
import { asksForPerson } from '../../server/pipeline/keywords';
import {
  FILLERS,
  NEGATIONS,
  PERSON_NOUNS,
  PRONOUNS,
  REQUEST_FRAMES,
  TRAILING_FRAMES,
  WANT_FRAMES,
} from '../../server/pipeline/person-requests';

/** Handoff keywords match requests for a person, not person words. */

const persona = loadPersona(resolve(import.meta.dirname, '../../persona.json'));
const keywords = persona.handoff.keywords;

const handOver: [string, string][] = [
  ['en', 'talk to an agent'],
  ['en', 'Can I talk to a human please?'],
  ['en', 'I want to speak with a real person'],
  ['en', "I'd like to speak to one of your agents"],
  ['en', 'Is there someone I can talk to?'],
  ['en', 'Please connect me with customer service'],
  ['en', 'No, I want a human'],
  ['en', "Why can't I talk to a human?"],
  ['en', 'Agent, please'],
  ['en', 'HUMAN!!'],
  ['en', 'transfer me to an operator'],
  ['en', 'need a human'],
  ['en', 'This bot is useless. Get me a manager.'],
  ['es', 'quiero hablar con una persona'],
  ['es', 'Hola, ¿puedo hablar con alguien?'],
  ['es', 'Necesito un asesor'],
  ['es', 'pásame con un agente por favor'],
  ['es', 'Prefiero hablar con una persona de verdad'],
  ['es', 'una persona que me atienda'],
  ['es', '¿Hay alguien ahí?'],
  ['es', 'Quisiera comunicarme con un representante'],
  ['es', 'Una persona, por favor'],
  ['pt', 'posso falar com um atendente?'],
  ['pt', 'me passa para um atendente'],
  ['pt', 'quero atendimento humano'],
  ['pt', 'tem alguém aí?'],
  ['pt', 'gostaria de falar com uma pessoa'],
  ['pt', 'Preciso de um atendente, por favor'],
  ['pt', 'no momento quero falar com um atendente'],
  ['pt', 'Atendente!'],
  ['pt', 'me transfere pra um humano'],
];

const doNotHandOver: [string, string][] = [
  ['en', "I'm a travel agent, do you ship desks?"],
  ['en', "I don't want to talk to a human"],
  ['en', 'Are you a human?'],
  ['en', 'My son is an agent'],
  ['en', 'I need someone to deliver it tomorrow'],
  ['en', 'who is my contact person?'],
  ['en', 'I talked to an agent yesterday and she was great'],
  ['en', 'is it safe for the human body?'],
  ['en', 'The operator of the crane said hi'],
  ['en', 'We are real estate agents looking for 20 desks'],
  ['en', 'no need to talk to a person, the bot is fine'],
  ['en', 'please stop by tomorrow'],
  ['es', 'el agente de viajes'],
  ['es', 'no quiero hablar con una persona'],
  ['es', 'quiero hablar con un agente de viajes'],
  ['es', 'necesito un agente inmobiliario para la oficina'],
  ['es', 'Hay personas que compran dos'],
  ['es', 'Soy asesor financiero y necesito sillas'],
  ['es', 'la persona que me atendió fue muy amable'],
  ['es', '¿El humano promedio cabe en esta silla?'],
  ['pt', 'sou corretor'],
  ['pt', 'não quero falar com um atendente'],
  ['pt', 'Como se chama a pessoa que me atendeu?'],
  ['pt', 'sou atendente de uma loja'],
  ['pt', 'o agente de viagens me indicou vocês'],
  ['pt', 'essa cadeira aguenta uma pessoa pesada?'],
  ['pt', 'nem quero falar com atendente, só o preço'],
];

describe('handoff requests', () => {
  it.each(handOver)('(%s) hands over: %s', (_lang, text) => {
    expect(asksForPerson(text, keywords)).toBe(true);
  });

  it.each(doNotHandOver)('(%s) does not hand over: %s', (_lang, text) => {
    expect(asksForPerson(text, keywords)).toBe(false);
  });

  it('the table covers every language both ways', () => {
    for (const lang of ['en', 'es', 'pt']) {
      expect(handOver.filter(([l]) => l === lang).length).toBeGreaterThanOrEqual(8);
      expect(doNotHandOver.filter(([l]) => l === lang).length).toBeGreaterThanOrEqual(7);
    }
    expect(handOver.length + doNotHandOver.length).toBeGreaterThanOrEqual(30);
  });

  it('the persona keywords extend the grammar: a request phrase alone, a person word after a frame', () => {
    expect(asksForPerson('can we do a quick call with the boss', [])).toBe(false);
    expect(asksForPerson('can we do a quick call with the boss', ['quick call with the boss'])).toBe(false);
    expect(asksForPerson('I want to talk to the boss', [])).toBe(false);
    expect(asksForPerson('I want to talk to the boss', ['boss'])).toBe(true);
    expect(asksForPerson('the boss said the desks are late', ['boss'])).toBe(false);
    expect(asksForPerson('Boss, please', ['boss'])).toBe(true);
    expect(asksForPerson('quiero hablar con el vendedor', ['vendedor'])).toBe(true);
    expect(asksForPerson('soy vendedor de muebles', ['vendedor'])).toBe(false);
    // A keyword that starts with a request frame is a phrase of its own, anywhere but after a negation.
    expect(asksForPerson('I really must speak to someone today', ['speak to someone'])).toBe(true);
    expect(asksForPerson("I don't need to speak to someone", ['speak to someone'])).toBe(false);
    expect(asksForPerson('hablar con ventas ya', ['hablar con ventas'])).toBe(true);
  });
});

/** Words that are no frame, negation, courtesy or person: the stuff of an unrelated sentence. */
const neutralWords = [
  'do',
  'you',
  'ship',
  'desks',
  'to',
  'canada',
  'the',
  'blue',
  'chair',
  'price',
  'my',
  'order',
  'arrived',
  'broken',
  'travel',
  'el',
  'pedido',
  'llego',
  'roto',
  'de',
  'viajes',
  'mesa',
  'envio',
  'sou',
  'corretor',
  'o',
  'pacote',
  'chegou',
  'amanha',
  'i',
  'am',
  'a',
  'una',
  'um',
  'is',
  'was',
  'and',
  'y',
  'e',
];
const frameWords = new Set(
  [...REQUEST_FRAMES, ...WANT_FRAMES, ...TRAILING_FRAMES, ...NEGATIONS].flatMap((f) =>
    f.replace('^', '').split(' '),
  ),
);
const neutral = fc.constantFrom(...neutralWords.filter((w) => !frameWords.has(w)));
const personWords = [...PERSON_NOUNS, ...keywords.filter((k) => !/^(talk|speak) /.test(k))];
/** An unrelated sentence: more than articles (a clause of articles and a person is a request). */
const sentence = fc
  .array(neutral, { minLength: 2, maxLength: 12 })
  .filter((words) => words.some((w) => !FILLERS.includes(w)));

describe('properties', () => {
  it('the unrelated sentences have words enough to vary', () => {
    expect(neutralWords.filter((w) => !frameWords.has(w)).length).toBeGreaterThan(20);
  });

  it('property: a person word added anywhere inside an unrelated sentence never hands over', () => {
    fc.assert(
      fc.property(
        sentence,
        fc.nat(),
        fc.constantFrom(...personWords),
        fc.constantFrom([], ['the'], ['a'], ['una'], ['um'], ['real']),
        (words, at, person, article) => {
          const i = at % (words.length + 1);
          const text = [...words.slice(0, i), ...article, person, ...words.slice(i)].join(' ');
          expect(asksForPerson(text, keywords), text).toBe(false);
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('property: a person word the persona adds, inside an unrelated sentence, never hands over', () => {
    fc.assert(
      fc.property(sentence, fc.nat(), fc.stringMatching(/^[a-z]{4,10}$/), (words, at, custom) => {
        fc.pre(!frameWords.has(custom) && !neutralWords.includes(custom));
        const i = at % (words.length + 1);
        const text = [...words.slice(0, i), custom, ...words.slice(i)].join(' ');
        expect(asksForPerson(text, [...keywords, custom]), text).toBe(false);
        // The same word after a request frame is a request.
        expect(asksForPerson(`${words.join(' ')}. Can I talk to a ${custom}?`, [custom])).toBe(true);
      }),
      { numRuns: 1000 },
    );
  });

  it('property: a request in its own clause hands over whatever the rest says; negated, it does not', () => {
    const request = fc.constantFrom(
      ['talk to', 'a human'],
      ['speak with', 'an agent'],
      ['hablar con', 'una persona'],
      ['pasame con', 'un asesor'],
      ['falar com', 'um atendente'],
      ['me passa para', 'uma pessoa'],
    );
    const negation = fc.constantFrom(
      "I don't want to",
      'I do not want to',
      'no quiero',
      'não quero',
      'nunca quiero',
    );
    fc.assert(
      fc.property(sentence, sentence, request, negation, (before, after, [frame, person], no) => {
        const b = before.join(' ');
        const a = after.join(' ');
        expect(asksForPerson(`${b}. ${frame} ${person}, ${a}`, keywords)).toBe(true);
        expect(asksForPerson(`${b}. ${no} ${frame} ${person}, ${a}`, keywords)).toBe(false);
      }),
      { numRuns: 1000 },
    );
  });

  it('pronouns are no request on their own, nor after a frame of wanting', () => {
    for (const p of PRONOUNS) {
      expect(asksForPerson(`${p}?`, keywords)).toBe(false);
      expect(asksForPerson(`I need ${p} to fix it`, keywords)).toBe(false);
    }
  });
});
