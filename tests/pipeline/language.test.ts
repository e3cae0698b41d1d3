import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { contacts, tasks } from '../../drizzle';
import { content, messagesUpsert, upsertEntry } from '../../scripts/lib/wasender-payloads';
import {
  conversationByPhone,
  type PipelineHarness,
  sendsTo,
  startPipeline,
  textWebhook,
} from '../helpers/pipeline';

/** Fixed texts reach the customer in their language; handoffs outside business hours say when. */

describe('fixed texts in the customer language', () => {
  let h: PipelineHarness;
  beforeAll(async () => {
    h = await startPipeline({ REPLY_QUIET_MS: '300' });
  });
  afterAll(() => h?.closeAll());
  const t = () => h.runtime.persona.translations;

  it('a Spanish request for a person hands over with the Spanish message', async () => {
    const phone = '14155550901';
    await h.post(textWebhook({ phone, text: 'Hola, quiero hablar con una persona' }));
    const [msg] = await sendsTo(h, phone);
    expect(msg!.text).toBe(t().es!.handoffMessage);
    expect((await conversationByPhone(h, phone)).owner).toBe('human');
  });

  it('a Portuguese request for a person hands over with the Portuguese message', async () => {
    const phone = '14155550902';
    await h.post(textWebhook({ phone, text: 'Boa tarde! Posso falar com um atendente?' }));
    const [msg] = await sendsTo(h, phone);
    expect(msg!.text).toBe(t().pt!.handoffMessage);
  });

  it('a travel agent asking about desks gets an answer, not a handoff', async () => {
    const phone = '14155550903';
    await h.post(textWebhook({ phone, text: "I'm a travel agent, do you ship desks?" }));
    const [msg] = await sendsTo(h, phone);
    expect(msg!.text).toBe("Echo: I'm a travel agent, do you ship desks?");
    expect((await conversationByPhone(h, phone)).owner).toBe('bot');
  });

  it('an image after Portuguese texts gets the non-text reply in Portuguese', async () => {
    const phone = '14155550904';
    await h.post(textWebhook({ phone, text: 'Olá, vocês entregam em São Paulo?' }));
    await sendsTo(h, phone);
    await h.post(
      messagesUpsert(
        upsertEntry({
          phone,
          id: `IMG${Date.now()}`,
          pushName: null,
          timestamp: null,
          message: content.image({ url: 'https://mmg.whatsapp.net/x.enc' }),
        }),
        { timestamp: null },
      ),
    );
    const sent = await sendsTo(h, phone, 2);
    expect(sent[1]!.text).toBe(t().pt!.nonTextReply);
  });

  it('STOP after Spanish texts confirms in Spanish; START confirms in Spanish too', async () => {
    const phone = '14155550905';
    await h.post(textWebhook({ phone, text: '¿Cuánto cuesta el envío a Madrid?' }));
    await sendsTo(h, phone);
    await h.post(textWebhook({ phone, text: 'STOP' }));
    const sent = await sendsTo(h, phone, 2);
    expect(sent[1]!.text).toBe(t().es!.optOutConfirmation);
    const [contact] = await h.runtime.database.db
      .select()
      .from(contacts)
      .where(eq(contacts.phone, `+${phone}`));
    expect(contact!.optedOutAt).not.toBeNull();
    await h.post(textWebhook({ phone, text: 'start' }));
    expect((await sendsTo(h, phone, 3))[2]!.text).toBe(t().es!.optInConfirmation);
  });

  it('an English customer still gets the English texts; short texts get the default language', async () => {
    const phone = '14155550906';
    await h.post(textWebhook({ phone, text: 'ok' }));
    await sendsTo(h, phone);
    await h.post(textWebhook({ phone, text: 'stop' }));
    const sent = await sendsTo(h, phone, 2);
    expect(sent[1]!.text).toBe(h.runtime.persona.optOut.confirmation);
  });

  it('handing back from the dashboard greets a Portuguese customer in Portuguese', async () => {
    const phone = '14155550907';
    await h.post(textWebhook({ phone, text: 'Quero falar com uma pessoa, por favor' }));
    await sendsTo(h, phone);
    const { id } = await conversationByPhone(h, phone);
    const back = await h.caller('agent').bot.handBack({ conversationId: id, notifyCustomer: true });
    expect(back.changed).toBe(true);
    const sent = await sendsTo(h, phone, 2);
    expect(sent[0]!.text).toBe(t().pt!.handoffMessage);
    expect(sent[1]!.text).toBe(t().pt!.backMessage);
  });
});

/** The shipped persona with hours whose every day around today is a holiday: closed, whatever the clock says. */
function closedPersonaFile(): { file: string; opening: Date } {
  const raw = JSON.parse(readFileSync(path.resolve('persona.json'), 'utf8'));
  const now = new Date();
  const day = (offset: number) =>
    new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() + offset));
  raw.businessHours = {
    ...raw.businessHours,
    timeZone: 'UTC',
    weekly: Object.fromEntries(
      ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'].map((d) => [d, ['09:00-17:00']]),
    ),
    // Yesterday to two days ahead: the test may cross midnight and the next opening stays the same.
    holidays: [-1, 0, 1, 2].map((o) => day(o).toISOString().slice(0, 10)),
  };
  const dir = mkdtempSync(path.join(os.tmpdir(), 'wcb-persona-hours-'));
  const file = path.join(dir, 'persona.json');
  writeFileSync(file, JSON.stringify(raw));
  const opening = day(3);
  opening.setUTCHours(9);
  return { file, opening };
}

describe('outside business hours', () => {
  let h: PipelineHarness;
  let opening: Date;
  beforeAll(async () => {
    const closed = closedPersonaFile();
    opening = closed.opening;
    h = await startPipeline({ REPLY_QUIET_MS: '300', PERSONA_PATH: closed.file });
  });
  afterAll(() => h?.closeAll());

  const weekday = (lang: string) => opening.toLocaleDateString(lang, { weekday: 'long', timeZone: 'UTC' });

  it('the bot still answers questions', async () => {
    const phone = '14155550911';
    await h.post(textWebhook({ phone, text: 'Do you have standing desks?' }));
    const [msg] = await sendsTo(h, phone);
    expect(msg!.text).toBe('Echo: Do you have standing desks?');
  });

  it('a handoff tells when a colleague replies, and the task is due after the opening', async () => {
    const phone = '14155550912';
    await h.post(textWebhook({ phone, text: 'Can I talk to a human please?' }));
    const [msg] = await sendsTo(h, phone);
    expect(msg!.text).toBe(
      h.runtime.persona.businessHours!.handoffMessage.replace('{when}', `on ${weekday('en')} at 9:00 AM`),
    );
    expect(msg!.text).not.toContain('as soon as they can');
    const { id } = await conversationByPhone(h, phone);
    const [task] = await h.runtime.database.db.select().from(tasks).where(eq(tasks.conversationId, id));
    expect(task!.dueAt?.toISOString()).toBe(new Date(opening.getTime() + 60 * 60_000).toISOString());
  });

  it('in the customer language, with the date words of that language', async () => {
    const phone = '14155550913';
    await h.post(textWebhook({ phone, text: 'Hola, necesito hablar con un asesor sobre mi pedido' }));
    const [msg] = await sendsTo(h, phone);
    expect(msg!.text).toBe(
      h.runtime.persona.translations.es!.afterHoursHandoffMessage!.replace(
        '{when}',
        `el ${weekday('es')} a las 9:00`,
      ),
    );
  });

  it('the fallback message too, when the AI cannot answer', async () => {
    const phone = '14155550914';
    h.openai.script({ status: 400 });
    await h.post(textWebhook({ phone, text: 'Meu pedido chegou quebrado, o que eu faço?' }));
    const [msg] = await sendsTo(h, phone, 1, 30_000);
    expect(msg!.text).toBe(
      h.runtime.persona.translations.pt!.afterHoursFallbackMessage!.replace(
        '{when}',
        `${opening.getUTCDay() === 0 || opening.getUTCDay() === 6 ? 'no' : 'na'} ${weekday('pt')} às 9:00`,
      ),
    );
  });
});
