import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { botEvents, contacts, conversations, messages } from '../../drizzle';
import { type PipelineHarness, sendsTo, startPipeline, textWebhook } from '../helpers/pipeline';

let h: PipelineHarness;
beforeAll(async () => {
  h = await startPipeline({ REPLY_QUIET_MS: '0' });
});
afterAll(() => h?.closeAll());

const db = () => h.runtime.database.db;
const missing = '00000000-0000-4000-8000-000000000099';

async function conversationFor(phone: string) {
  await h.post(textWebhook({ phone, text: 'hello there' }));
  await sendsTo(h, phone);
  const [row] = await db()
    .select({ id: conversations.id })
    .from(conversations)
    .innerJoin(contacts, eq(contacts.id, conversations.contactId))
    .where(eq(contacts.phone, `+${phone}`));
  return row!.id;
}

describe('conversations.sendMessage', () => {
  it("stores the agent's reply, sends it, and gives the conversation to the human", async () => {
    const id = await conversationFor('14155550501');
    const res = await h
      .caller('agent')
      .conversations.sendMessage({ conversationId: id, text: 'Hi, Maria here.' });
    expect(res).toMatchObject({ conversationId: id, status: 'queued' });
    const sent = await sendsTo(h, '14155550501', 2);
    expect(sent[1]!.text).toBe('Hi, Maria here.');
    const [msg] = await db().select().from(messages).where(eq(messages.id, res.messageIds[0]!));
    expect(msg).toMatchObject({ author: 'agent', actorId: 'test-agent', direction: 'outbound' });
    const [conv] = await db().select().from(conversations).where(eq(conversations.id, id));
    expect(conv!.owner).toBe('human');
    const [event] = await db().select().from(botEvents).where(eq(botEvents.conversationId, id));
    expect(event).toMatchObject({ toOwner: 'human', actorType: 'apiKey', actorId: 'test-agent' });
  });

  it('NOT_FOUND for an unknown conversation, BAD_REQUEST for empty text; nothing stored', async () => {
    const before = (await db().select({ id: messages.id }).from(messages)).length;
    await expect(
      h.caller('agent').conversations.sendMessage({ conversationId: missing, text: 'x' }),
    ).rejects.toMatchObject({
      code: 'NOT_FOUND',
    });
    await expect(
      h.caller('agent').conversations.sendMessage({ conversationId: missing, text: '  ' }),
    ).rejects.toMatchObject({
      code: 'BAD_REQUEST',
    });
    expect((await db().select({ id: messages.id }).from(messages)).length).toBe(before);
  });

  it('over HTTP with an agent key', async () => {
    const id = await conversationFor('14155550502');
    const key = await h.key('agent');
    const res = await fetch(`${h.baseUrl}/trpc/conversations.sendMessage`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ json: { conversationId: id, text: 'Sent from the dashboard' } }),
    });
    expect(res.status).toBe(200);
    const sent = await sendsTo(h, '14155550502', 2);
    expect(sent[1]!.text).toBe('Sent from the dashboard');
  });
});

describe('conversations.start', () => {
  it('opens a conversation with a new number and the agent text', async () => {
    const res = await h
      .caller('agent')
      .conversations.start({ phone: '+1 415 555 0503', name: 'Lee', text: 'Hello Lee!' });
    const [sent] = await sendsTo(h, '14155550503');
    expect(sent!.text).toBe('Hello Lee!');
    const [c] = await db().select().from(contacts).where(eq(contacts.phone, '+14155550503'));
    expect(c!.name).toBe('Lee');
    const [conv] = await db().select().from(conversations).where(eq(conversations.id, res.conversationId));
    expect(conv!.contactId).toBe(c!.id);
  });

  it('can let the bot write the introduction', async () => {
    h.openai.setResponder(() => 'Hi! I am Ava, how can I help?');
    const res = await h.caller('agent').conversations.start({ phone: '+14155550504', aiIntro: true });
    const [sent] = await sendsTo(h, '14155550504');
    expect(sent!.text).toBe('Hi! I am Ava, how can I help?');
    const [msg] = await db().select().from(messages).where(eq(messages.id, res.messageIds[0]!));
    expect(msg!.author).toBe('bot');
    expect(msg!.ai).not.toBeNull();
    h.openai.setResponder(null);
  });

  it('refuses an opted-out number, an invalid number, and both or neither of text and aiIntro', async () => {
    await h.post(textWebhook({ phone: '14155550505', text: 'STOP' }));
    await sendsTo(h, '14155550505');
    await expect(
      h.caller('agent').conversations.start({ phone: '+14155550505', text: 'Promo!' }),
    ).rejects.toMatchObject({
      code: 'PRECONDITION_FAILED',
    });
    await expect(h.caller('agent').conversations.start({ phone: '123', text: 'x' })).rejects.toMatchObject({
      code: 'BAD_REQUEST',
    });
    await expect(
      h.caller('agent').conversations.start({ phone: '+14155550506', text: 'x', aiIntro: true }),
    ).rejects.toMatchObject({ code: 'BAD_REQUEST' });
    expect(await db().select().from(contacts).where(eq(contacts.phone, '+14155550506'))).toHaveLength(0);
  });
});

describe('bot.setOwner and bot.handBack', () => {
  it('take over, then hand back once with the "bot is back" message', async () => {
    const id = await conversationFor('14155550507');
    const agent = h.caller('agent');
    expect(await agent.bot.setOwner({ conversationId: id, owner: 'human', reason: 'VIP customer' })).toEqual({
      conversationId: id,
      owner: 'human',
      changed: true,
    });
    expect((await agent.bot.setOwner({ conversationId: id, owner: 'human' })).changed).toBe(false);

    const back = await agent.bot.handBack({ conversationId: id, notifyCustomer: true });
    expect(back.changed).toBe(true);
    const sent = await sendsTo(h, '14155550507', 2);
    expect(sent[1]!.text).toBe(h.runtime.persona.handoff.backMessage);
    expect((await agent.bot.handBack({ conversationId: id, notifyCustomer: true })).changed).toBe(false);
    await new Promise((r) => setTimeout(r, 1000));
    expect(h.wasender.sent.filter((s) => s.to === '+14155550507')).toHaveLength(2);

    const events = await db()
      .select()
      .from(botEvents)
      .where(eq(botEvents.conversationId, id))
      .orderBy(botEvents.createdAt);
    expect(events.map((e) => `${e.toOwner}:${e.reason}`)).toEqual([
      'human:VIP customer',
      'bot:Handed back from the dashboard',
    ]);
  });

  it('NOT_FOUND for an unknown conversation', async () => {
    await expect(h.caller('agent').bot.handBack({ conversationId: missing })).rejects.toMatchObject({
      code: 'NOT_FOUND',
    });
  });
});
