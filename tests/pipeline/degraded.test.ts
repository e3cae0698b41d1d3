import { eq } from 'drizzle-orm';
import { afterAll, describe, expect, it } from 'vitest';
import { contacts, conversations, messages, tasks } from '../../drizzle';
import { type PipelineHarness, sendsTo, startPipeline, textWebhook } from '../helpers/pipeline';

const open: PipelineHarness[] = [];
afterAll(async () => {
  for (const h of open) await h.closeAll();
});
async function harness(...args: Parameters<typeof startPipeline>) {
  const h = await startPipeline(...args);
  open.push(h);
  return h;
}

async function conversationOf(h: PipelineHarness, phone: string) {
  const [row] = await h.runtime.database.db
    .select({ conv: conversations, contact: contacts })
    .from(conversations)
    .innerJoin(contacts, eq(contacts.id, conversations.contactId))
    .where(eq(contacts.phone, `+${phone}`));
  return row!;
}

describe('when the AI fails', () => {
  it('retries, then sends the fallback message (never an error) and hands the conversation to a human with a task', async () => {
    const h = await harness({ AI_MAX_ATTEMPTS: '2', REPLY_QUIET_MS: '0' });
    h.openai.script({ status: 500 }, { status: 503 });
    const phone = '14155550401';
    await h.post(textWebhook({ phone, text: 'are you there?' }));
    const [msg] = await sendsTo(h, phone, 1, 30_000);
    expect(msg!.text).toBe(h.runtime.persona.fallbackMessage);
    expect(h.openai.requests.length).toBe(2);
    const { conv } = await conversationOf(h, phone);
    expect(conv.owner).toBe('human');
    const t = await h.runtime.database.db.select().from(tasks).where(eq(tasks.conversationId, conv.id));
    expect(t).toHaveLength(1);
    expect(t[0]!.title).toContain('could not reply');
  });

  it('recovers when a retry succeeds: one normal answer', async () => {
    const h = await harness({ AI_MAX_ATTEMPTS: '3', REPLY_QUIET_MS: '0' });
    h.openai.script({ status: 429, retryAfter: 0 });
    const phone = '14155550402';
    await h.post(textWebhook({ phone, text: 'hello after a hiccup' }));
    const [msg] = await sendsTo(h, phone, 1, 30_000);
    expect(msg!.text).toBe('Echo: hello after a hiccup');
    expect((await conversationOf(h, phone)).conv.owner).toBe('bot');
  });
});

describe('without an OpenAI key', () => {
  it('keeps every message, answers with the fallback, asks a human, and says so in /health', async () => {
    const h = await harness({ REPLY_QUIET_MS: '0' }, { withoutOpenAI: true });
    const phone = '14155550403';
    expect((await h.post(textWebhook({ phone, text: 'anyone?' }))).status).toBe(200);
    const [msg] = await sendsTo(h, phone);
    expect(msg!.text).toBe(h.runtime.persona.fallbackMessage);
    expect(h.openai.requests).toHaveLength(0);
    const health = (await (await fetch(`${h.baseUrl}/health`)).json()) as {
      integrations: { openai: { configured: boolean } };
    };
    expect(health.integrations.openai.configured).toBe(false);
  });
});

describe('without a gateway token', () => {
  it('stores outbound messages with status not_configured and keeps the inbound', async () => {
    const h = await harness({ REPLY_QUIET_MS: '0' }, { withoutGateway: true });
    const phone = '14155550404';
    await h.post(textWebhook({ phone, text: 'is the shop open?' }));
    const { conv } = await conversationOf(h, phone);
    await expect
      .poll(
        async () =>
          (
            await h.runtime.database.db.select().from(messages).where(eq(messages.conversationId, conv.id))
          ).map((m) => `${m.direction}:${m.status}`),
        { timeout: 15_000 },
      )
      .toEqual(expect.arrayContaining(['inbound:received', 'outbound:not_configured']));
    expect(h.wasender.requests).toHaveLength(0);
  });
});

describe('gateway failures', () => {
  it('a rejected send is marked failed with the reason and a person is asked to follow up', async () => {
    const h = await harness({ REPLY_QUIET_MS: '0' });
    h.wasender.script({ status: 400, message: 'The number is not on WhatsApp' });
    const phone = '14155550405';
    await h.post(textWebhook({ phone, text: 'hi' }));
    const { conv } = await conversationOf(h, phone);
    await expect
      .poll(
        async () =>
          (
            await h.runtime.database.db.select().from(messages).where(eq(messages.conversationId, conv.id))
          ).find((m) => m.direction === 'outbound')?.status,
        { timeout: 15_000 },
      )
      .toBe('failed');
    const [out] = (
      await h.runtime.database.db.select().from(messages).where(eq(messages.conversationId, conv.id))
    ).filter((m) => m.direction === 'outbound');
    expect(out!.error).toContain('not on WhatsApp');
    expect((await conversationOf(h, phone)).conv.owner).toBe('human');
  });
});
