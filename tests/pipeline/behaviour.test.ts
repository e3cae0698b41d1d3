import { and, eq } from 'drizzle-orm';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { activities, botEvents, contacts, conversations, messages, tasks } from '../../drizzle';
import { content, messagesUpsert, upsertEntry } from '../../scripts/lib/wasender-payloads';
import { lastUserText } from '../fakes/openai-server';
import { type PipelineHarness, sendsTo, startPipeline, textWebhook } from '../helpers/pipeline';

let h: PipelineHarness;
beforeAll(async () => {
  h = await startPipeline({ REPLY_QUIET_MS: '400' });
});
afterAll(() => h?.closeAll());
beforeEach(() => h.openai.setResponder(null));

const db = () => h.runtime.database.db;
const settle = (ms = 1500) => new Promise((r) => setTimeout(r, ms));

async function conversationOf(phone: string) {
  const [row] = await db()
    .select({ conv: conversations, contact: contacts })
    .from(conversations)
    .innerJoin(contacts, eq(contacts.id, conversations.contactId))
    .where(eq(contacts.phone, `+${phone}`));
  return row!;
}

describe('bursts', () => {
  it('three quick messages get one reply that reads all three', async () => {
    const phone = '14155550301';
    const before = h.openai.requests.length;
    for (const text of ['Hi', 'I need a quote', 'for 20 chairs']) await h.post(textWebhook({ phone, text }));
    const [reply] = await sendsTo(h, phone);
    await settle();
    expect(h.wasender.sent.filter((s) => s.to === `+${phone}`)).toHaveLength(1);
    expect(reply!.text).toBe('Echo: for 20 chairs');
    const requests = h.openai.requests.slice(before);
    expect(requests).toHaveLength(1);
    const userTurns = requests[0]!.body.messages
      .filter((m) => m.role === 'user' && !String(m.content).startsWith('<customer_data>'))
      .map((m) => m.content);
    expect(userTurns).toEqual(['Hi', 'I need a quote', 'for 20 chairs']);
  });

  it('a reply overtaken by a newer message is dropped and regenerated with it', async () => {
    const phone = '14155550302';
    h.openai.setResponder(async (body) => {
      await new Promise((r) => setTimeout(r, 1200));
      return `Answer to: ${lastUserText(body)}`;
    });
    await h.post(textWebhook({ phone, text: 'first question' }));
    // Wait until the first answer is being generated, then write again.
    await expect
      .poll(() => h.openai.requests.some((r) => lastUserText(r.body) === 'first question'))
      .toBe(true);
    await h.post(textWebhook({ phone, text: 'and a second one' }));
    const [reply] = await sendsTo(h, phone);
    await settle(2500);
    const mine = h.wasender.sent.filter((s) => s.to === `+${phone}`);
    expect(mine).toHaveLength(1);
    expect(reply!.text).toBe('Answer to: and a second one');
    const { conv } = await conversationOf(phone);
    const bot = await db()
      .select()
      .from(messages)
      .where(and(eq(messages.conversationId, conv.id), eq(messages.author, 'bot')));
    expect(bot).toHaveLength(1);
  });
});

describe('human takeover', () => {
  it('a message typed on the business phone hands the conversation to a human; the bot stays quiet, then resumes after the quiet time', async () => {
    const phone = '14155550303';
    await h.post(textWebhook({ phone, text: 'hello?' }));
    await sendsTo(h, phone, 1);
    await h.post(textWebhook({ phone, text: 'Hi, this is Sam from the shop', fromMe: true }));
    let { conv } = await conversationOf(phone);
    expect(conv.owner).toBe('human');
    expect(conv.botResumesAt).not.toBeNull();

    await h.post(textWebhook({ phone, text: 'Great, thanks Sam' }));
    await settle();
    expect(h.wasender.sent.filter((s) => s.to === `+${phone}`)).toHaveLength(1);
    const stored = await db().select().from(messages).where(eq(messages.body, 'Great, thanks Sam'));
    expect(stored).toHaveLength(1);

    // The human's quiet time runs out: the next message is answered by the bot again.
    await db()
      .update(conversations)
      .set({ botResumesAt: new Date(Date.now() - 1000) })
      .where(eq(conversations.id, conv.id));
    await h.post(textWebhook({ phone, text: 'one more thing' }));
    const sent = await sendsTo(h, phone, 2);
    expect(sent[1]!.text).toBe('Echo: one more thing');
    ({ conv } = await conversationOf(phone));
    expect(conv.owner).toBe('bot');
    const history = await db()
      .select()
      .from(botEvents)
      .where(eq(botEvents.conversationId, conv.id))
      .orderBy(botEvents.createdAt);
    expect(history.map((e) => `${e.fromOwner}>${e.toOwner}:${e.actorType}`)).toEqual([
      'bot>human:agent',
      'human>bot:system',
    ]);
  });
});

describe('handoff', () => {
  it('asking for a person hands over once: message, task, activity', async () => {
    const phone = '14155550304';
    await h.post(textWebhook({ phone, text: 'Can I talk to a human please?' }));
    const [msg] = await sendsTo(h, phone);
    expect(msg!.text).toBe(h.runtime.persona.handoff.message);
    const { conv, contact } = await conversationOf(phone);
    expect(conv.owner).toBe('human');
    expect(conv.ownerReason).toBe('The customer asked for a person');
    const t = await db().select().from(tasks).where(eq(tasks.conversationId, conv.id));
    expect(t).toHaveLength(1);
    expect(t[0]).toMatchObject({ type: 'handoff', priority: 'high', status: 'open' });
    const a = await db().select().from(activities).where(eq(activities.contactId, contact.id));
    expect(a.map((x) => x.type)).toContain('handoff');

    await h.post(textWebhook({ phone, text: 'human!!' }));
    await settle();
    expect(h.wasender.sent.filter((s) => s.to === `+${phone}`)).toHaveLength(1);
  });

  it('the model can ask for a human with the request_human tool', async () => {
    const phone = '14155550305';
    h.openai.setResponder(() => ({
      toolCall: { name: 'request_human', arguments: { reason: 'wants a refund' } },
    }));
    await h.post(textWebhook({ phone, text: 'My order arrived broken, I am furious' }));
    const [msg] = await sendsTo(h, phone);
    expect(msg!.text).toBe(h.runtime.persona.handoff.message);
    const { conv } = await conversationOf(phone);
    expect(conv).toMatchObject({ owner: 'human', ownerReason: 'wants a refund' });
  });
});

describe('opt-out', () => {
  it('STOP opts out with one confirmation; START opts back in', async () => {
    const phone = '14155550306';
    await h.post(textWebhook({ phone, text: 'STOP' }));
    const [confirm] = await sendsTo(h, phone);
    expect(confirm!.text).toBe(h.runtime.persona.optOut.confirmation);
    expect((await conversationOf(phone)).contact.optedOutAt).not.toBeNull();

    await h.post(textWebhook({ phone, text: 'stop' }));
    await settle();
    expect(h.wasender.sent.filter((s) => s.to === `+${phone}`)).toHaveLength(1);

    await h.post(textWebhook({ phone, text: 'Start' }));
    const sent = await sendsTo(h, phone, 2);
    expect(sent[1]!.text).toBe(h.runtime.persona.optOut.optInConfirmation);
    expect((await conversationOf(phone)).contact.optedOutAt).toBeNull();
  });

  it('a sentence that merely contains "stop" is a normal message', async () => {
    const phone = '14155550307';
    await h.post(textWebhook({ phone, text: 'please stop by tomorrow' }));
    const [reply] = await sendsTo(h, phone);
    expect(reply!.text).toBe('Echo: please stop by tomorrow');
    expect((await conversationOf(phone)).contact.optedOutAt).toBeNull();
  });
});

describe('message types and splitting', () => {
  it('an image without a caption gets the persona answer for non-text messages', async () => {
    const phone = '14155550308';
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
    const [reply] = await sendsTo(h, phone);
    expect(reply!.text).toBe(h.runtime.persona.nonText.reply);
    const [stored] = await db().select().from(messages).where(eq(messages.type, 'image'));
    expect(stored).toMatchObject({ direction: 'inbound', body: null });
  });

  it('a long answer is sent as WhatsApp-sized parts, in order, one row each', async () => {
    const phone = '14155550309';
    const paragraphs = ['A'.repeat(10), 'B', 'C'].map((x, i) => `${x} ${'word '.repeat(110 + i)}`.trim());
    h.openai.setResponder(() => paragraphs.join('\n\n'));
    await h.post(textWebhook({ phone, text: 'tell me everything' }));
    const sent = await sendsTo(h, phone, 3);
    const max = h.runtime.persona.replySplitting.maxChars;
    expect(sent.every((s) => s.text.length <= max)).toBe(true);
    expect(sent.map((s) => s.text[0])).toEqual(['A', 'B', 'C']);
    const { conv } = await conversationOf(phone);
    const rows = await db()
      .select()
      .from(messages)
      .where(and(eq(messages.conversationId, conv.id), eq(messages.author, 'bot')));
    expect(rows.map((r) => r.partIndex).sort()).toEqual([0, 1, 2]);
    expect(new Set(rows.map((r) => r.replyGroup)).size).toBe(1);
  });
});

describe('gateway rate limits', () => {
  it('a 429 waits for retry_after and the message then goes out once', async () => {
    const phone = '14155550310';
    h.wasender.script({ status: 429, retryAfter: 1 });
    const attempts = () =>
      h.wasender.requests.filter((r) => (r.body as { to?: string }).to === `+${phone}`).length;
    const started = Date.now();
    await h.post(textWebhook({ phone, text: 'rate limited?' }));
    const [reply] = await sendsTo(h, phone);
    expect(reply!.at - started).toBeGreaterThanOrEqual(1000);
    expect(attempts()).toBe(2);
    await settle();
    expect(h.wasender.sent.filter((s) => s.to === `+${phone}`)).toHaveLength(1);
  });
});
