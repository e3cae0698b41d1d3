import { tmpdir } from 'node:os';
import path from 'node:path';
import { and, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { contacts, conversations, messageMedia, messages, tasks } from '../../drizzle';
import { waitFor } from '../campaigns/support';
import { type GatewayHarness, type GatewayKind, startGateway } from '../helpers/gateways';

/**
 * The same customer scenarios against both gateways' fakes (WaSender and Meta's Cloud API), each over
 * its own webhook: a reply, a handoff, an opt-out, delivery statuses and a campaign.
 */
describe.each<GatewayKind>(['wasender', 'whatsapp-cloud'])('customer scenarios through %s', (kind) => {
  let h: GatewayHarness;
  beforeAll(async () => {
    h = await startGateway(kind, { GATEWAY_RETRY_AFTER_MAX_SECONDS: '1' });
  });
  afterAll(() => h?.closeAll());
  const db = () => h.runtime.database.db;
  // Distinct numbers per gateway, so a failure names its own customer.
  const phoneOf = (n: number) => `1415555${kind === 'wasender' ? '1' : '2'}${String(n).padStart(3, '0')}`;

  async function conversationOf(phone: string) {
    const [row] = await db()
      .select({ conv: conversations, contact: contacts })
      .from(conversations)
      .innerJoin(contacts, eq(contacts.id, conversations.contactId))
      .where(eq(contacts.phone, `+${phone}`));
    return row!;
  }

  it('the system status reports the sending gateway as configured', async () => {
    const status = await h.caller('admin').stats.systemStatus();
    expect(status.integrations.wasender.configured).toBe(true);
    expect(status.integrations.wasender.detail).toMatch(kind === 'wasender' ? /WaSender/ : /Cloud API/);
    expect(status.integrations.webhook.configured).toBe(true);
  });

  it('a customer message gets the bot reply; the conversation records its channel and window', async () => {
    const phone = phoneOf(1);
    const res = await h.inbound(phone, 'Hello, do you deliver?');
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ stored: 1 });
    const [sent] = await h.sendsTo(phone);
    expect(sent!.text).toBe('Echo: Hello, do you deliver?');
    const { conv } = await conversationOf(phone);
    expect(conv.channel).toBe(kind);
    const got = await h.caller('agent').conversations.get({ id: conv.id });
    expect(got.conversation.channel).toBe(kind);
    const list = await h.caller('agent').conversations.list({ limit: 50 });
    const item = list.items.find((i) => i.id === conv.id)!;
    if (kind === 'wasender') {
      expect(got.conversation.windowClosesAt).toBeNull();
      expect(item.windowClosesAt).toBeNull();
    } else {
      const closes = got.conversation.windowClosesAt!.getTime();
      expect(closes - conv.lastInboundAt!.getTime()).toBe(24 * 3600 * 1000);
      expect(item.windowClosesAt?.getTime()).toBe(closes);
    }
  });

  it('the same message delivered twice is stored once and answered once', async () => {
    const phone = phoneOf(2);
    const id = `ONCE${kind.length}${Date.now()}`;
    expect(await (await h.inbound(phone, 'Only once', id)).json()).toMatchObject({ stored: 1 });
    await h.sendsTo(phone);
    expect(await (await h.inbound(phone, 'Only once', id)).json()).toMatchObject({
      stored: 0,
      duplicates: 1,
    });
    const { conv } = await conversationOf(phone);
    const inbound = await db()
      .select()
      .from(messages)
      .where(and(eq(messages.conversationId, conv.id), eq(messages.direction, 'inbound')));
    expect(inbound).toHaveLength(1);
  });

  it('asking for a person hands over: the handoff message, a human owner and a task', async () => {
    const phone = phoneOf(3);
    await h.inbound(phone, 'Can I talk to a human please?');
    const [msg] = await h.sendsTo(phone);
    expect(msg!.text).toBe(h.runtime.persona.handoff.message);
    const { conv } = await conversationOf(phone);
    expect(conv.owner).toBe('human');
    const t = await db().select().from(tasks).where(eq(tasks.conversationId, conv.id));
    expect(t).toHaveLength(1);
  });

  it('STOP opts the customer out with one confirmation', async () => {
    const phone = phoneOf(4);
    await h.inbound(phone, 'STOP');
    const [confirm] = await h.sendsTo(phone);
    expect(confirm!.text).toBe(h.runtime.persona.optOut.confirmation);
    expect((await conversationOf(phone)).contact.optedOutAt).not.toBeNull();
  });

  it('delivery statuses move the sent message forward to read', async () => {
    const phone = phoneOf(5);
    await h.inbound(phone, 'Status please');
    const [sent] = await h.sendsTo(phone);
    const { conv } = await conversationOf(phone);
    const outbound = async () =>
      (
        await db()
          .select()
          .from(messages)
          .where(and(eq(messages.conversationId, conv.id), eq(messages.direction, 'outbound')))
      )[0]!;
    await waitFor(async () => (await outbound()).status === 'sent');
    expect((await h.status(sent!, 'delivered')).status).toBe(200);
    await waitFor(async () => (await outbound()).status === 'delivered');
    expect((await h.status(sent!, 'read')).status).toBe(200);
    await waitFor(async () => (await outbound()).status === 'read');
  });

  it('a campaign reaches a customer who wrote today', async () => {
    const phone = phoneOf(6);
    await h.inbound(phone, 'Hi there');
    await h.sendsTo(phone);
    const { contact } = await conversationOf(phone);
    const c = await h.caller('agent').campaigns.create({
      name: `Spring ${kind}`,
      template: 'Spring sale for {{name|you}}',
      audience: { contactIds: [contact.id] },
    });
    await h.caller('agent').campaigns.start({ id: c.id });
    const sent = await h.sendsTo(phone, 2);
    expect(sent[1]!.text).toBe('Spring sale for Customer');
  });
});

describe('the Cloud API 24-hour customer service window', () => {
  let h: GatewayHarness;
  beforeAll(async () => {
    // A longer quiet time, so a test can close a window between a message and its reply.
    h = await startGateway('whatsapp-cloud', {
      GATEWAY_RETRY_AFTER_MAX_SECONDS: '1',
      REPLY_QUIET_MS: '1500',
      // Campaign files; the Cloud API takes an upload, so no PUBLIC_BASE_URL is needed.
      MEDIA_DIR: path.join(tmpdir(), `wcb-cloud-media-${process.pid}-${Date.now()}`),
    });
  });
  afterAll(() => h?.closeAll());
  const db = () => h.runtime.database.db;

  async function conversationOf(phone: string) {
    const [row] = await db()
      .select({ conv: conversations, contact: contacts })
      .from(conversations)
      .innerJoin(contacts, eq(contacts.id, conversations.contactId))
      .where(eq(contacts.phone, `+${phone}`));
    return row!;
  }

  it('an agent message after the window is refused (412) before anything is stored or sent', async () => {
    const phone = '14155553001';
    await h.inbound(phone, 'hello');
    await h.sendsTo(phone);
    const { conv } = await conversationOf(phone);
    await db()
      .update(conversations)
      .set({ lastInboundAt: new Date(Date.now() - 25 * 3600 * 1000) })
      .where(eq(conversations.id, conv.id));
    const before = await db().select().from(messages).where(eq(messages.conversationId, conv.id));
    const sends = h.sends().length;
    const err = await h
      .caller('agent')
      .conversations.sendMessage({ conversationId: conv.id, text: 'Are you still there?' })
      .catch((e: { code?: string; message?: string }) => e);
    expect(err).toMatchObject({ code: 'PRECONDITION_FAILED' });
    expect((err as Error).message).toMatch(/24-hour customer service window/);
    expect(await db().select().from(messages).where(eq(messages.conversationId, conv.id))).toHaveLength(
      before.length,
    );
    expect(h.sends()).toHaveLength(sends);
    const got = await h.caller('agent').conversations.get({ id: conv.id });
    expect(got.conversation.windowClosesAt!.getTime()).toBeLessThan(Date.now());
  });

  it('starting a conversation with a number that never wrote is refused', async () => {
    const err = await h
      .caller('agent')
      .conversations.start({ phone: '+14155553002', text: 'Hello from the shop' })
      .catch((e: { code?: string }) => e);
    expect(err).toMatchObject({ code: 'PRECONDITION_FAILED' });
    expect(h.sends().filter((s) => s.to === '+14155553002')).toHaveLength(0);
  });

  it('a campaign with recipients outside the window and no template is refused before it starts', async () => {
    const [contact] = await db()
      .insert(contacts)
      .values({ phone: '+14155553003', name: 'Cold' })
      .returning({ id: contacts.id });
    const c = await h.caller('agent').campaigns.create({
      name: 'Cold campaign',
      template: 'Hello {{name}}',
      audience: { contactIds: [contact!.id] },
    });
    const err = await h
      .caller('agent')
      .campaigns.start({ id: c.id })
      .catch((e: { code?: string; message?: string }) => e);
    expect(err).toMatchObject({ code: 'PRECONDITION_FAILED' });
    expect((err as Error).message).toMatch(/1 recipient\(s\) are outside .*24-hour/);
    expect((await h.caller('agent').campaigns.get({ id: c.id })).status).toBe('draft');
    expect(h.sends().filter((s) => s.to === '+14155553003')).toHaveLength(0);
  });

  it('templates: admins sync them; campaigns refuse unapproved ones and send approved ones outside the window', async () => {
    h.cloud!.templates.push(
      {
        name: 'spring_sale',
        language: 'en_US',
        category: 'MARKETING',
        status: 'APPROVED',
        body: 'Hi {{1}}, {{2}} off',
      },
      { name: 'draft_offer', language: 'en_US', category: 'MARKETING', status: 'PENDING', body: 'Hi {{1}}' },
      { name: 'hello', language: 'en_US', category: 'UTILITY', status: 'APPROVED', body: 'Hello {{1}}' },
    );
    expect(
      await h
        .caller('agent')
        .templates.sync()
        .catch((e: { code?: string }) => e.code),
    ).toBe('FORBIDDEN');
    expect(await h.caller('admin').templates.sync()).toEqual({ synced: 3, removed: 0 });
    const list = await h.caller('agent').templates.list();
    expect(list.items.find((t) => t.name === 'spring_sale')).toMatchObject({
      status: 'APPROVED',
      bodyVariables: 2,
    });

    const [contact] = await db()
      .insert(contacts)
      .values({ phone: '+14155553010', name: 'Maria Silva' })
      .returning({ id: contacts.id });
    const base = { name: 'Spring', template: 'Hi {{name}}', audience: { contactIds: [contact!.id] } };
    const pending = await h
      .caller('agent')
      .campaigns.create({
        ...base,
        cloudTemplate: { name: 'draft_offer', language: 'en_US', variables: ['{{name}}'] },
      })
      .catch((e: { code?: string; message?: string }) => e);
    expect(pending).toMatchObject({ code: 'BAD_REQUEST' });
    expect((pending as Error).message).toMatch(/PENDING, not APPROVED/);
    const wrongCount = await h
      .caller('agent')
      .campaigns.create({
        ...base,
        cloudTemplate: { name: 'spring_sale', language: 'en_US', variables: ['{{name}}'] },
      })
      .catch((e: { code?: string }) => e.code);
    expect(wrongCount).toBe('BAD_REQUEST');

    const c = await h.caller('agent').campaigns.create({
      ...base,
      cloudTemplate: { name: 'spring_sale', language: 'en_US', variables: ['{{first_name|there}}', '20%'] },
    });
    expect(c.cloudTemplate).toMatchObject({ name: 'spring_sale' });
    await h.caller('agent').campaigns.start({ id: c.id });
    const [sent] = await h.sendsTo('14155553010');
    const recorded = h.cloud!.sent.find((s) => s.id === sent!.id)!;
    expect(recorded).toMatchObject({
      type: 'template',
      template: { name: 'spring_sale', language: 'en_US', parameters: ['Maria', '20%'] },
    });
  });

  it('a campaign with a file sends its template without the file outside the window, recorded as text', async () => {
    // Runs after the templates test above, which synced the approved templates.
    const [contact] = await db()
      .insert(contacts)
      .values({ phone: '+14155553012', name: 'Ana Costa' })
      .returning({ id: contacts.id });
    const png = Buffer.concat([
      Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
      Buffer.alloc(32),
    ]);
    const c = await h.caller('agent').campaigns.create({
      name: 'Photo spring',
      template: 'Hi {{name}}',
      attachment: { kind: 'image', data: png.toString('base64') },
      cloudTemplate: { name: 'spring_sale', language: 'en_US', variables: ['{{first_name|there}}', '20%'] },
      audience: { contactIds: [contact!.id] },
    });
    expect(c.attachment).toMatchObject({ kind: 'image', mimeType: 'image/png' });
    await h.caller('agent').campaigns.start({ id: c.id });
    const [sent] = await h.sendsTo('14155553012');
    expect(h.cloud!.sent.find((s) => s.id === sent!.id)).toMatchObject({
      type: 'template',
      template: { name: 'spring_sale', parameters: ['Ana', '20%'] },
    });
    const rows = await db()
      .select({ type: messages.type, media: messageMedia.id })
      .from(messages)
      .leftJoin(messageMedia, eq(messageMedia.messageId, messages.id))
      .where(eq(messages.campaignId, c.id));
    expect(rows).toEqual([{ type: 'text', media: null }]);
  });

  it('conversations.start outside the window sends the approved template', async () => {
    const res = await h.caller('agent').conversations.start({
      phone: '+14155553011',
      name: 'Rui',
      template: { name: 'hello', language: 'en_US', variables: ['{{name}}'] },
    });
    const [sent] = await h.sendsTo('14155553011');
    expect(h.cloud!.sent.find((s) => s.id === sent!.id)).toMatchObject({
      type: 'template',
      template: { name: 'hello', parameters: ['Rui'] },
    });
    await waitFor(async () => {
      const [m] = await db().select().from(messages).where(eq(messages.id, res.messageIds[0]!));
      return m?.status === 'sent';
    });
  });

  it('a bot reply whose window closed before it was sent fails with the reason and a task, unsent', async () => {
    const phone = '14155553020';
    const requestsBefore = h.cloud!.requests.length;
    await h.inbound(phone, 'reply to me later');
    const { conv } = await conversationOf(phone);
    await db()
      .update(conversations)
      .set({ lastInboundAt: new Date(Date.now() - 25 * 3600 * 1000) })
      .where(eq(conversations.id, conv.id));
    const failed = await waitFor(async () => {
      const [m] = await db()
        .select()
        .from(messages)
        .where(and(eq(messages.conversationId, conv.id), eq(messages.direction, 'outbound')));
      return m?.status === 'failed' ? m : null;
    });
    expect(failed.error).toMatch(/^Not sent: outside .*24-hour customer service window/);
    const t = await waitFor(async () => {
      const rows = await db().select().from(tasks).where(eq(tasks.conversationId, conv.id));
      return rows.length ? rows : null;
    });
    expect(t).toHaveLength(1);
    // Nothing reached Meta for it.
    expect(h.cloud!.requests.slice(requestsBefore).filter((r) => r.path.endsWith('/messages'))).toHaveLength(
      0,
    );
  });

  it("Meta's re-engagement error (131047) fails the reply with the reason and a task", async () => {
    const phone = '14155553004';
    h.cloud!.script({ code: 131047, status: 400, message: 'Re-engagement message' });
    await h.inbound(phone, 'hello again');
    const { conv } = await waitFor(async () => {
      const row = await conversationOf(phone).catch(() => null);
      return row?.conv ? row : null;
    });
    const failed = await waitFor(async () => {
      const [m] = await db()
        .select()
        .from(messages)
        .where(and(eq(messages.conversationId, conv.id), eq(messages.direction, 'outbound')));
      return m?.status === 'failed' ? m : null;
    });
    expect(failed.error).toMatch(/24-hour customer service window/);
    const t = await waitFor(async () => {
      const rows = await db().select().from(tasks).where(eq(tasks.conversationId, conv.id));
      return rows.length ? rows : null;
    });
    expect(t).toHaveLength(1);
  });

  it('a rate limit (130429) waits and sends the reply afterwards', async () => {
    const phone = '14155553005';
    h.cloud!.script({ code: 130429, status: 400, message: 'Rate limit hit', retryAfterHeader: '1' });
    const tries = () => h.cloud!.requests.filter((r) => r.path.endsWith('/messages')).length;
    const before = tries();
    await h.inbound(phone, 'busy day');
    const [sent] = await h.sendsTo(phone, 1, 20_000);
    expect(sent!.text).toBe('Echo: busy day');
    // The first try was refused with the rate limit; the second went out.
    expect(tries() - before).toBe(2);
  });
});
