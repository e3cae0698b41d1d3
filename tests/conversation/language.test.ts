import { resolve } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { detectLanguage, fixedText } from '../../server/conversation/language';
import { FIXED_TEXT_KEYS, loadPersona, parsePersona } from '../../server/persona';

const persona = loadPersona(resolve(import.meta.dirname, '../../persona.json'));

describe('the customer language', () => {
  it.each([
    ['en', ['Hi, do you ship desks to Canada?']],
    ['en', ['My order arrived broken']],
    ['es', ['Hola, ¿tienen escritorios en stock?']],
    ['es', ['quiero hablar con una persona']],
    ['es', ['dónde está mi paquete']],
    ['pt', ['posso falar com um atendente?']],
    ['pt', ['Meu pedido chegou quebrado']],
    ['pt', ['onde está meu pacote']],
    // The newest text decides when it is clear...
    ['pt', ['Hola, ¿tienen escritorios?', 'Desculpe, vocês entregam em São Paulo?']],
    // ...and the last few together when it is too short to tell.
    ['es', ['Mi pedido llegó roto', 'necesito ayuda con mi cuenta', 'gracias']],
    ['pt', ['Meu pedido chegou quebrado', 'preciso de ajuda', 'sim']],
  ])('%s from %j', async (expected, texts) => {
    expect(await detectLanguage(persona, texts)).toBe(expected);
  });

  it.each([
    ['short texts', ['ok']],
    ['a greeting alone', ['hola']],
    ['nothing but emoji', ['👍🏽🙏']],
    ['no text at all', []],
    ['a language the persona has no texts in', ['Bonjour, est-ce que vous livrez des bureaux à Paris ?']],
  ])('the default language when unsure: %s', async (_why, texts) => {
    expect(await detectLanguage(persona, texts)).toBe(persona.defaultLanguage);
  });

  it('property: any text, NUL, lone surrogates and megabytes included, yields one of the persona languages', async () => {
    const unit = fc.oneof(
      fc.string({ unit: 'binary', maxLength: 4 }),
      fc.constantFrom('\u0000', '\ud800', '\udfff', '\u200b', 'ñ', 'ç', 'ã', ' ', '\n'),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(fc.string({ unit, maxLength: 200 }), { maxLength: 5 }), async (texts) => {
        expect(['en', 'es', 'pt']).toContain(await detectLanguage(persona, texts));
      }),
      { numRuns: 300 },
    );
    expect(
      await detectLanguage(persona, [`${'\u0000'.repeat(1_000_000)}quiero hablar con una persona`]),
    ).toBe('es');
    expect(await detectLanguage(persona, ['x'.repeat(2_000_000)])).toBe('en');
  });

  it('a persona without translations speaks its default language without loading the detector', async () => {
    const raw = JSON.parse(JSON.stringify(persona));
    raw.translations = {};
    raw.defaultLanguage = 'pt';
    const ptOnly = parsePersona(raw);
    expect(await detectLanguage(ptOnly, ['Hi, do you ship desks to Canada?'])).toBe('pt');
  });
});

describe('fixed texts', () => {
  it('every fixed text exists in every language of the shipped persona, each its own', () => {
    for (const key of FIXED_TEXT_KEYS) {
      if (key.startsWith('afterHours')) continue;
      const en = fixedText(persona, key, 'en');
      const es = fixedText(persona, key, 'es');
      const pt = fixedText(persona, key, 'pt');
      expect(new Set([en, es, pt]).size, key).toBe(3);
      expect(es).toBe(persona.translations.es![key]);
      expect(pt).toBe(persona.translations.pt![key]);
    }
    expect(fixedText(persona, 'handoffMessage', 'en')).toBe(persona.handoff.message);
    expect(fixedText(persona, 'nonTextReply', 'en')).toBe(persona.nonText.reply);
  });

  it('a language without texts gets the default language', () => {
    expect(fixedText(persona, 'backMessage', 'fr')).toBe(persona.handoff.backMessage);
  });
});
