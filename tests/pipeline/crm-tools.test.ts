import { eq } from 'drizzle-orm';
import pino from 'pino';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { activities, contacts, conversations, deals, tasks } from '../../drizzle';
import { BOT_TOOL_NAMES, botToolDefinitions, ZSaveContactDetails } from '../../server/services/bot-tools';
import { type PipelineHarness, sendsTo, startPipeline, textWebhook } from '../helpers/pipeline';

/** Every log line of the server, parsed. */
const logLines: { level: number; msg: string; tool?: string; error?: string }[] = [];
const logger = pino({ level: 'info' }, { write: (line: string) => void logLines.push(JSON.parse(line)) });

let h: PipelineHarness;
beforeAll(async () => {
  h = await startPipeline({}, { logger });
});
afterAll(() => h?.closeAll());
beforeEach(() => h.openai.setResponder(null));

const db = () => h.runtime.database.db;
const settle = (ms = 1200) => new Promise((r) => setTimeout(r, ms));
const inAWeek = () => new Date(Date.now() + 7 * 86_400_000).toISOString();

async function contactOf(phone: string) {
  const [row] = await db()
    .select()
    .from(contacts)
    .where(eq(contacts.phone, `+${phone}`));
  return row!;
}
const activitiesOf = (contactId: string) =>
  db().select().from(activities).where(eq(activities.contactId, contactId)).orderBy(activities.occurredAt);
const tasksOf = (contactId: string) => db().select().from(tasks).where(eq(tasks.contactId, contactId));

/** The model calls these tools, then answers `text` once it has their results. */
function toolsThenText(calls: { name: string; arguments: unknown }[], text: string) {
  h.openai.script({ reply: { toolCalls: calls } }, { reply: text });
}

describe('the model keeps the CRM through its tools', () => {
  it('tool calls fill the contact, note an interest, set the status and create a follow-up, as the bot', async () => {
    const phone = '14155550901';
    const before = h.openai.requests.length;
    const dueAt = inAWeek();
    toolsThenText(
      [
        {
          name: 'save_contact_details',
          arguments: { name: 'Ana Lima', email: 'ana@lima.example', company: 'Lima Solar', position: 'CTO' },
        },
        { name: 'note_interest', arguments: { interest: 'Solar Panels', details: 'for a warehouse roof' } },
        { name: 'set_lead_status', arguments: { status: 'qualified', reason: 'budget and timeline' } },
        { name: 'create_follow_up', arguments: { title: 'Send the roof quote', dueAt, priority: 'high' } },
      ],
      'Thanks Ana, a colleague will send the quote.',
    );
    await h.post(textWebhook({ phone, text: "I'm Ana Lima, CTO at Lima Solar, ana@lima.example" }));
    const [reply] = await sendsTo(h, phone);
    expect(reply!.text).toBe('Thanks Ana, a colleague will send the quote.');

    const contact = await contactOf(phone);
    expect(contact).toMatchObject({
      name: 'Ana Lima',
      email: 'ana@lima.example',
      company: 'Lima Solar',
      position: 'CTO',
      leadStatus: 'qualified',
      optedOutAt: null,
    });
    expect(contact.tags).toEqual(['interest:solar panels']);

    const [task] = await tasksOf(contact.id);
    expect(task).toMatchObject({ title: 'Send the roof quote', type: 'follow_up', priority: 'high' });
    expect(task!.dueAt!.toISOString()).toBe(dueAt);
    expect(task!.createdByActor).toMatchObject({ type: 'bot' });
    const [conv] = await db().select().from(conversations).where(eq(conversations.contactId, contact.id));
    expect(task!.conversationId).toBe(conv!.id);

    const timeline = await activitiesOf(contact.id);
    expect(timeline.map((a) => [a.type, a.actorType])).toEqual([
      ['contact_details_saved', 'bot'],
      ['interest_noted', 'bot'],
      ['lead_status_changed', 'bot'],
      ['follow_up_created', 'bot'],
    ]);

    // Two model rounds: the tools offered (request_human and the CRM tools), then their results.
    const requests = h.openai.requests.slice(before);
    expect(requests).toHaveLength(2);
    const offered = (requests[0]!.body.tools as { function: { name: string } }[]).map((t) => t.function.name);
    expect(offered).toEqual(['request_human', ...BOT_TOOL_NAMES]);
    const results = requests[1]!.body.messages.filter((m) => m.role === 'tool').map((m) => String(m.content));
    expect(results).toHaveLength(4);
    for (const r of results) expect(r).toMatch(/^ok: /);
  });

  it('a field a person entered is kept; only empty fields are filled', async () => {
    const phone = '14155550902';
    const person = await h.caller('agent').crm.contacts.create({
      phone: `+${phone}`,
      name: 'Maria Souza',
      company: 'Acme',
      leadStatus: 'customer',
    });
    const before = h.openai.requests.length;
    toolsThenText(
      [
        {
          name: 'save_contact_details',
          arguments: { name: 'Mary', company: 'Other Co', email: 'maria@acme.example' },
        },
        { name: 'set_lead_status', arguments: { status: 'proposal' } },
      ],
      'Noted, thank you!',
    );
    await h.post(textWebhook({ phone, text: 'Mary here, from Other Co, maria@acme.example' }));
    const [reply] = await sendsTo(h, phone);
    expect(reply!.text).toBe('Noted, thank you!');

    const contact = await contactOf(phone);
    expect(contact).toMatchObject({
      id: person.id,
      name: 'Maria Souza',
      company: 'Acme',
      email: 'maria@acme.example',
      leadStatus: 'customer',
    });
    const timeline = await activitiesOf(contact.id);
    expect(timeline.map((a) => a.type)).toEqual(['contact_details_saved']);
    expect(timeline[0]!.metadata).toMatchObject({ fields: ['email'], kept: ['name', 'company'] });

    const results = h.openai.requests
      .slice(before)[1]!
      .body.messages.filter((m) => m.role === 'tool')
      .map((m) => String(m.content));
    expect(results[0]).toMatch(/^ok: will save email .*kept: name, company/);
    expect(results[1]).toMatch(/^refused, nothing changed: the lead status is customer/);
  });

  it('bad arguments and forbidden actions change nothing, are logged, and the reply still goes out', async () => {
    const phone = '14155550903';
    const other = await h.caller('agent').crm.contacts.create({ phone: '+14155550999' });
    const mine = await h.caller('agent').crm.contacts.create({ phone: `+${phone}` });
    const deal = await h
      .caller('agent')
      .crm.deals.create({ contactId: mine.id, title: 'Roof', stage: 'proposal' });
    const warnsBefore = logLines.length;
    const calls = [
      { name: 'set_lead_status', arguments: { status: 'customer' } },
      { name: 'set_lead_status', arguments: { status: 'lost' } },
      { name: 'save_contact_details', arguments: { contactId: other.id, name: 'Hijack' } },
      { name: 'save_contact_details', arguments: { name: 'Opted', optedOut: true } },
      { name: 'save_contact_details', arguments: { email: 'not an email' } },
      { name: 'save_contact_details', arguments: {} },
      { name: 'move_deal', arguments: { dealId: deal.id, stage: 'won' } },
      { name: 'opt_out', arguments: {} },
      { name: 'delete_contact', arguments: {} },
      { name: 'create_follow_up', arguments: { title: 'Too late', dueAt: '2020-01-01T10:00:00Z' } },
      { name: 'create_follow_up', arguments: { title: 'No zone', dueAt: '2099-01-01 10:00' } },
      { name: 'note_interest', arguments: '{"interest": "solar' },
      { name: 'note_interest', arguments: { interest: 'x'.repeat(41) } },
      { name: 'save_contact_details', arguments: { name: 'A\u0000B' } },
      { name: 'note_interest', arguments: { interest: 'solar \ud800' } },
      { name: 'save_contact_details', arguments: { position: 'x'.repeat(100_000) } },
    ];
    toolsThenText(calls, 'Happy to help!');
    await h.post(textWebhook({ phone, text: 'Hello' }));
    const [reply] = await sendsTo(h, phone);
    expect(reply!.text).toBe('Happy to help!');
    await settle();
    expect(h.wasender.sent.filter((s) => s.to === `+${phone}`)).toHaveLength(1);

    const contact = await contactOf(phone);
    expect(contact).toMatchObject({
      name: null,
      email: null,
      company: null,
      leadStatus: 'new',
      optedOutAt: null,
      deletedAt: null,
      tags: [],
    });
    expect(await contactOf('14155550999')).toMatchObject({ name: null, leadStatus: 'new', tags: [] });
    const [dealNow] = await db().select().from(deals).where(eq(deals.id, deal.id));
    expect(dealNow!.stage).toBe('proposal');
    expect((await activitiesOf(contact.id)).map((a) => a.type)).toEqual(['deal_created']);
    expect(await tasksOf(contact.id)).toEqual([]);

    const refused = logLines.slice(warnsBefore).filter((l) => l.msg === 'bot tool call refused');
    expect(refused.map((l) => l.tool)).toEqual(calls.map((c) => c.name));
    expect(refused.every((l) => l.level === 40)).toBe(true);
  });

  it('a takeover during the model call wins: the reply and its tool calls are dropped', async () => {
    const phone = '14155550904';
    h.openai.script(
      {
        delayMs: 1500,
        reply: { toolCalls: [{ name: 'save_contact_details', arguments: { name: 'Late Bot' } }] },
      },
      { reply: 'Too late' },
    );
    const before = h.openai.requests.length;
    await h.post(textWebhook({ phone, text: 'my name is Late' }));
    await expect.poll(() => h.openai.requests.length - before, { timeout: 15_000 }).toBe(1);
    const contact = await contactOf(phone);
    const [conv] = await db().select().from(conversations).where(eq(conversations.contactId, contact.id));
    await h.caller('agent').bot.setOwner({ conversationId: conv!.id, owner: 'human' });
    await expect.poll(() => h.openai.requests.length - before, { timeout: 15_000 }).toBe(2);
    await settle(2000);
    expect(h.wasender.sent.filter((s) => s.to === `+${phone}`)).toHaveLength(0);
    expect((await contactOf(phone)).name).toBeNull();
    expect((await activitiesOf(contact.id)).filter((a) => a.actorType === 'bot')).toEqual([]);
  });
});

describe('the tool loop', () => {
  it('tool calls beside a text answer are applied with it, in one model round', async () => {
    const phone = '14155550905';
    const before = h.openai.requests.length;
    h.openai.script({
      reply: {
        toolCalls: [{ name: 'note_interest', arguments: { interest: 'chairs' } }],
        text: 'Chairs, noted!',
      },
    });
    await h.post(textWebhook({ phone, text: 'I want chairs' }));
    const [reply] = await sendsTo(h, phone);
    expect(reply!.text).toBe('Chairs, noted!');
    expect(h.openai.requests.length - before).toBe(1);
    expect((await contactOf(phone)).tags).toEqual(['interest:chairs']);
  });

  it('after three rounds of tool calls the model must answer in text', async () => {
    const phone = '14155550906';
    const before = h.openai.requests.length;
    const call = { name: 'note_interest', arguments: { interest: 'tables' } };
    h.openai.script(
      { reply: { toolCalls: [call] } },
      { reply: { toolCalls: [call] } },
      { reply: { toolCalls: [call] } },
      { reply: 'Tables it is.' },
    );
    await h.post(textWebhook({ phone, text: 'tables please' }));
    const [reply] = await sendsTo(h, phone);
    expect(reply!.text).toBe('Tables it is.');
    const requests = h.openai.requests.slice(before);
    expect(requests.map((r) => r.body.tool_choice)).toEqual(['auto', 'auto', 'auto', 'none']);
    const contact = await contactOf(phone);
    expect(contact.tags).toEqual(['interest:tables']);
    // The same interest noted three times: the tag once, an activity per accepted call.
    expect((await activitiesOf(contact.id)).map((a) => a.type)).toEqual([
      'interest_noted',
      'interest_noted',
      'interest_noted',
    ]);
  });
});

describe('tool definitions', () => {
  it('the JSON schema the model gets is derived from the zod schema and refuses unknown keys', () => {
    const save = botToolDefinitions(new Date())[0]!;
    expect(save.name).toBe('save_contact_details');
    expect(save.parameters).toMatchObject({
      type: 'object',
      additionalProperties: false,
      properties: { name: { type: 'string' }, email: { type: 'string' } },
    });
    expect(Object.keys(save.parameters.properties as object)).toEqual(Object.keys(ZSaveContactDetails.shape));
    const followUp = botToolDefinitions(new Date('2026-03-01T09:00:00Z')).find(
      (t) => t.name === 'create_follow_up',
    );
    expect(followUp!.description).toContain('2026-03-01T09:00:00.000Z');
  });
});
