import { and, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { conversations, messages } from '../../drizzle';
import { lastUserText } from '../fakes/openai-server';
import { conversationByPhone, type PipelineHarness, startPipeline, textWebhook } from '../helpers/pipeline';

/**
 * A person takes a conversation over while the model is still writing the bot's answer: the answer
 * must not go out, whichever way the takeover came (dashboard owner change, the bot switch for the
 * conversation, or a message typed on the business phone).
 */
let h: PipelineHarness;
/** Model calls held until the test lets them answer, by the customer's text. */
const held = new Map<string, () => void>();

beforeAll(async () => {
  h = await startPipeline({ REPLY_QUIET_MS: '100' });
  h.openai.setResponder(async (body) => {
    const text = lastUserText(body);
    await new Promise<void>((resolve) => held.set(text, resolve));
    return `Bot answer to: ${text}`;
  });
});
afterAll(() => h?.closeAll());

const db = () => h.runtime.database.db;
const settle = (ms = 1200) => new Promise((r) => setTimeout(r, ms));

const conversationOf = (phone: string) => conversationByPhone(h, phone);

const takeovers: Array<[string, (phone: string, conversationId: string) => Promise<unknown>]> = [
  [
    'bot.setOwner from the dashboard',
    (_phone, conversationId) => h.caller('agent').bot.setOwner({ conversationId, owner: 'human' }),
  ],
  [
    'bot.setEnabled false',
    (_phone, conversationId) => h.caller('agent').bot.setEnabled({ conversationId, enabled: false }),
  ],
  [
    'typing on the business phone',
    (phone) => h.post(textWebhook({ phone, text: 'Sam here, I will handle this', fromMe: true })),
  ],
];

describe('a takeover while the model is answering', () => {
  it.each(takeovers.map((t, i) => [...t, `1415555041${i}`] as const))(
    '%s: the answer is not sent and the conversation stays human',
    async (_name, takeOver, phone) => {
      const text = `question for ${phone}`;
      await h.post(textWebhook({ phone, text }));
      // The model call is in flight (held by the fake).
      await expect.poll(() => held.has(text), { timeout: 10_000 }).toBe(true);
      const conv = await conversationOf(phone);
      await takeOver(phone, conv.id);
      expect((await conversationOf(phone)).owner).toBe('human');

      held.get(text)!();
      await expect
        .poll(async () => {
          const [c] = await db()
            .select({ handled: conversations.botHandledThrough })
            .from(conversations)
            .where(eq(conversations.id, conv.id));
          return c?.handled !== null && c?.handled !== undefined;
        })
        .toBe(true);
      await settle();

      expect(h.wasender.sent.filter((s) => s.to === `+${phone}`)).toEqual([]);
      const botRows = await db()
        .select({ id: messages.id })
        .from(messages)
        .where(and(eq(messages.conversationId, conv.id), eq(messages.author, 'bot')));
      expect(botRows).toEqual([]);
      expect((await conversationOf(phone)).owner).toBe('human');
    },
  );
});

describe('a takeover while a multi-part answer is going out', () => {
  it('the parts not yet sent are withdrawn, never sent, and say why', async () => {
    const phone = '14155550420';
    const text = `long question for ${phone}`;
    const paragraph = (n: number) => `Part ${n}: ${'details about the order and its delivery. '.repeat(14)}`;
    h.openai.setResponder(async () => [1, 2, 3].map(paragraph).join('\n\n'));
    // The gateway holds the first part's response until the person has taken over.
    let release!: () => void;
    h.wasender.script({ gate: new Promise<void>((r) => (release = r)) });
    try {
      await h.post(textWebhook({ phone, text }));
      // The first part is at the gateway (claimed and held there); the others wait behind it.
      await expect
        .poll(() => h.wasender.requests.some((r) => (r.body as { to?: string }).to === `+${phone}`), {
          timeout: 15_000,
        })
        .toBe(true);
      const conv = await conversationOf(phone);
      await h.caller('agent').bot.setOwner({ conversationId: conv.id, owner: 'human' });
      release();

      const parts = async () =>
        db()
          .select({
            body: messages.body,
            status: messages.status,
            error: messages.error,
            index: messages.partIndex,
          })
          .from(messages)
          .where(and(eq(messages.conversationId, conv.id), eq(messages.author, 'bot')))
          .orderBy(messages.partIndex);
      await expect
        .poll(async () => (await parts()).map((p) => p.status), { timeout: 15_000 })
        .toEqual(['sent', 'failed', 'failed']);
      await settle();
      const rows = await parts();
      expect(rows.slice(1).map((p) => p.error)).toEqual([
        'Not sent: a person took over the conversation before it went out',
        'Not sent: a person took over the conversation before it went out',
      ]);
      const sent = h.wasender.sent.filter((s) => s.to === `+${phone}`);
      expect(sent.map((s) => s.text.slice(0, 7))).toEqual(['Part 1:']);
      expect((await conversationOf(phone)).owner).toBe('human');
    } finally {
      release?.();
    }
  });
});
