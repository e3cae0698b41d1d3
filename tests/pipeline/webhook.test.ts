import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { contactIdentities, contacts, conversations, messages } from '../../drizzle';
import { messagesUpsert, upsertEntry } from '../../scripts/lib/wasender-payloads';
import {
  newId,
  type PipelineHarness,
  sendsTo,
  startPipeline,
  statusWebhook,
  textWebhook,
} from '../helpers/pipeline';

let h: PipelineHarness;
beforeAll(async () => {
  h = await startPipeline({ REPLY_QUIET_MS: '100' });
});
afterAll(() => h?.closeAll());

const db = () => h.runtime.database.db;

describe('POST /webhook', () => {
  it('a signed text message is stored, answered by the AI and sent through the gateway', async () => {
    const res = await h.post(
      textWebhook({ phone: '14155550201', text: 'Hello, do you deliver?', pushName: 'Ana' }),
    );
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ received: true, stored: 1 });

    const sent = await sendsTo(h, '14155550201');
    expect(sent[0]).toMatchObject({ to: '+14155550201', text: 'Echo: Hello, do you deliver?' });

    const [contact] = await db().select().from(contacts).where(eq(contacts.phone, '+14155550201'));
    expect(contact?.pushName).toBe('Ana');
    const rows = await db()
      .select()
      .from(messages)
      .innerJoin(conversations, eq(conversations.id, messages.conversationId))
      .where(eq(conversations.contactId, contact!.id));
    const inbound = rows.find((r) => r.messages.direction === 'inbound')!.messages;
    const outbound = rows.find((r) => r.messages.direction === 'outbound')!.messages;
    expect(inbound).toMatchObject({ author: 'contact', status: 'received', body: 'Hello, do you deliver?' });
    await expect
      .poll(async () => (await db().select().from(messages).where(eq(messages.id, outbound.id)))[0]?.status)
      .toBe('sent');
    const [stored] = await db().select().from(messages).where(eq(messages.id, outbound.id));
    expect(stored).toMatchObject({ author: 'bot', gatewayMessageId: String(sent[0]!.msgId) });
    expect(stored!.ai).toMatchObject({ model: expect.any(String), promptTokens: expect.any(Number) });
    // The prompt held the persona and the CRM summary.
    const prompt = h.openai.requests.at(-1)!.body.messages;
    expect(String(prompt[0]!.content)).toContain('WhatsApp assistant');
    expect(String(prompt[1]!.content)).toContain('+14155550201');
  });

  it('a second delivery of the same message changes nothing and sends nothing more', async () => {
    const body = textWebhook({ phone: '14155550202', text: 'Only once please' });
    expect((await h.post(body)).status).toBe(200);
    const again = await h.post(body);
    expect(again.status).toBe(200);
    expect(await again.json()).toMatchObject({ stored: 0, duplicates: 1 });
    await sendsTo(h, '14155550202');
    await new Promise((r) => setTimeout(r, 1500));
    expect(h.wasender.sent.filter((s) => s.to === '+14155550202')).toHaveLength(1);
    const [c] = await db().select().from(contacts).where(eq(contacts.phone, '+14155550202'));
    const rows = await db()
      .select({ id: messages.id })
      .from(messages)
      .innerJoin(conversations, eq(conversations.id, messages.conversationId))
      .where(eq(conversations.contactId, c!.id));
    expect(rows).toHaveLength(2);
  });

  it('a missing or wrong signature gets 401 and stores nothing', async () => {
    const before = await db().select({ id: messages.id }).from(messages);
    expect((await h.post(textWebhook({ phone: '14155550203', text: 'x' }), null)).status).toBe(401);
    expect((await h.post(textWebhook({ phone: '14155550203', text: 'x' }), 'wrong')).status).toBe(401);
    expect(
      (await h.post(textWebhook({ phone: '14155550203', text: 'x' }), `${'test-webhook-secret-0123456789'}x`))
        .status,
    ).toBe(401);
    expect(await db().select({ id: messages.id }).from(messages)).toHaveLength(before.length);
    expect(await db().select().from(contacts).where(eq(contacts.phone, '+14155550203'))).toHaveLength(0);
  });

  it('malformed bodies get 400 with the reason; unknown events are acknowledged', async () => {
    const bad = await h.post('{not json');
    expect(bad.status).toBe(400);
    const wrongData = await h.post({ event: 'messages.upsert', data: 'nope' });
    expect(wrongData.status).toBe(400);
    expect(((await wrongData.json()) as { error: string }).error).toMatch(/^data: /);
    // A malformed entry of a well-formed webhook is kept as a dead letter, not refused with the rest.
    const noId = await h.post({
      event: 'messages.upsert',
      data: { messages: { key: { remoteJid: 'x@s.whatsapp.net' } } },
    });
    expect(noId.status).toBe(200);
    expect(await noId.json()).toMatchObject({ stored: 0, deadLettered: 1 });
    const unknown = await h.post({ event: 'contacts.update', data: {} });
    expect(unknown.status).toBe(200);
  });

  it('group chats, broadcasts and newsletters are ignored and stored nowhere', async () => {
    // Bare entries: no profile name, no timestamps.
    const bare = (p: { jid: string; text: string; key?: Record<string, unknown> }) =>
      messagesUpsert(upsertEntry({ ...p, pushName: null, timestamp: null }), { timestamp: null });
    const group = bare({
      jid: '120363000000000000@g.us',
      key: { participant: '14155550204@s.whatsapp.net' },
      text: 'hi group',
    });
    const broadcast = bare({ jid: 'status@broadcast', text: 's' });
    expect((await h.post(group)).status).toBe(200);
    expect((await h.post(broadcast)).status).toBe(200);
    expect(await db().select().from(contacts).where(eq(contacts.phone, '+14155550204'))).toHaveLength(0);
    expect(await db().select().from(messages).where(eq(messages.body, 'hi group'))).toHaveLength(0);
  });

  it('the same person under a LID and under a phone is one contact and one conversation', async () => {
    await h.post(textWebhook({ phone: '14155550205', text: 'first from lid', lid: '99887766554433@lid' }));
    // Later the LID arrives without any phone: it resolves to the same contact.
    await h.post(
      messagesUpsert(
        upsertEntry({ lid: '99887766554433@lid', text: 'second, lid only', pushName: null, timestamp: null }),
        { timestamp: null },
      ),
    );
    await h.post(textWebhook({ phone: '14155550205', text: 'third, by phone' }));
    const cs = await db().select().from(contacts).where(eq(contacts.phone, '+14155550205'));
    expect(cs).toHaveLength(1);
    const ids = await db().select().from(contactIdentities).where(eq(contactIdentities.contactId, cs[0]!.id));
    expect(ids.map((i) => i.kind).sort()).toEqual(['lid', 'phone']);
    const convs = await db().select().from(conversations).where(eq(conversations.contactId, cs[0]!.id));
    expect(convs).toHaveLength(1);
    const bodies = (await db().select().from(messages).where(eq(messages.conversationId, convs[0]!.id)))
      .filter((m) => m.direction === 'inbound')
      .map((m) => m.body);
    expect(bodies.sort()).toEqual(['first from lid', 'second, lid only', 'third, by phone']);
  });

  it('status webhooks move our message forward only, matched by the echo of our send', async () => {
    await h.post(textWebhook({ phone: '14155550206', text: 'track me' }));
    const [sent] = await sendsTo(h, '14155550206');
    const byGatewayId = async () =>
      (
        await db()
          .select()
          .from(messages)
          .where(eq(messages.gatewayMessageId, String(sent!.msgId)))
      )[0];
    await expect.poll(byGatewayId).toBeDefined();
    const out = await byGatewayId();
    // WhatsApp echoes our own message with its id; that links the id to our row.
    const waId = newId();
    await h.post(textWebhook({ phone: '14155550206', text: sent!.text, id: waId, fromMe: true }));
    const row = async () => (await db().select().from(messages).where(eq(messages.id, out!.id)))[0]!;
    expect((await row()).providerMessageId).toBe(waId);

    await h.post(statusWebhook(waId, 4));
    expect((await row()).status).toBe('read');
    await h.post(statusWebhook(waId, 3));
    await h.post(statusWebhook(waId, 'DELIVERY_ACK'));
    await h.post(statusWebhook(waId, 0));
    expect((await row()).status).toBe('read');
    // The echo was ours: the conversation still belongs to the bot.
    const [conv] = await db().select().from(conversations).where(eq(conversations.id, out!.conversationId));
    expect(conv!.owner).toBe('bot');
  });

  it('an echo from WhatsApp confirms a send that was marked failed because the process died during it', async () => {
    await h.post(textWebhook({ phone: '14155550207', text: 'did it go out?' }));
    const [sent] = await sendsTo(h, '14155550207');
    // The gateway has it; our row is marked sent a moment later.
    const sentRow = async () =>
      (
        await db()
          .select()
          .from(messages)
          .where(eq(messages.gatewayMessageId, String(sent!.msgId)))
      )[0];
    await expect.poll(async () => (await sentRow())?.status).toBe('sent');
    const out = await sentRow();
    // The state a crash during the gateway call leaves behind (see the send job): never marked sent.
    await db()
      .update(messages)
      .set({
        status: 'failed',
        error: 'Sending was interrupted; it may not have been delivered',
        sentAt: null,
      })
      .where(eq(messages.id, out!.id));
    await h.post(textWebhook({ phone: '14155550207', text: sent!.text, id: newId(), fromMe: true }));
    const [after] = await db().select().from(messages).where(eq(messages.id, out!.id));
    expect(after).toMatchObject({ status: 'sent', error: null });
  });
});
