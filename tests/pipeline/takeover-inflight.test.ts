import { and, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { messages } from '../../drizzle';
import { lastUserText } from '../fakes/openai-server';
import type { FakeWasenderStep } from '../fakes/wasender-server';
import { conversationByPhone, type PipelineHarness, startPipeline, textWebhook } from '../helpers/pipeline';

/**
 * A person takes a conversation over while a part of the bot's answer is at the gateway, and the
 * gateway then turns that part away without sending it (a 429, an error status): the part is not
 * queued again and never goes out after the takeover. A message queued after the takeover (the
 * handoff message) still goes out through the same errors.
 */
let h: PipelineHarness;

beforeAll(async () => {
  h = await startPipeline({
    REPLY_QUIET_MS: '0',
    GATEWAY_RETRY_AFTER_MAX_SECONDS: '1',
    SEND_MAX_ATTEMPTS: '3',
  });
  h.openai.setResponder(async (body) => {
    const text = lastUserText(body);
    const paragraph = (n: number) => `Part ${n} for ${text}: ${'details about the order. '.repeat(24)}`;
    return [1, 2, 3].map(paragraph).join('\n\n');
  });
});
afterAll(() => h?.closeAll());

const db = () => h.runtime.database.db;
const settle = (ms = 2500) => new Promise((r) => setTimeout(r, ms));

const conversationOf = (phone: string) => conversationByPhone(h, phone);

const botParts = (conversationId: string) =>
  db()
    .select({ status: messages.status, error: messages.error, body: messages.body })
    .from(messages)
    .where(and(eq(messages.conversationId, conversationId), eq(messages.author, 'bot')))
    .orderBy(messages.partIndex);

const requestsTo = (phone: string) =>
  h.wasender.requests.filter((r) => (r.body as { to?: string }).to === `+${phone}`);

const refusals: Array<[string, Omit<FakeWasenderStep, 'gate'>]> = [
  ['a 429 asking for a day', { status: 429, retryAfter: 86_400 }],
  ['a 429 with only a Retry-After header', { status: 429, retryAfter: null, retryAfterHeader: '86400' }],
  ['a 503 (nothing was sent, normally retried)', { status: 503 }],
  ['a 500', { status: 500 }],
];

describe('a takeover while a part is at the gateway, which then turns it away', () => {
  it.each(refusals.map(([name, step], i) => [name, step, `1415555043${i}`] as const))(
    '%s: the part is failed with the reason, never sent again; the later parts are withdrawn',
    async (_name, refusal, phone) => {
      let release!: () => void;
      h.wasender.script({ ...refusal, gate: new Promise<void>((r) => (release = r)) });
      try {
        await h.post(textWebhook({ phone, text: `question from ${phone}` }));
        await expect.poll(() => requestsTo(phone).length, { timeout: 15_000 }).toBe(1);
        const conv = await conversationOf(phone);
        await h.caller('agent').bot.setOwner({ conversationId: conv.id, owner: 'human' });
        const takenOverAt = Date.now();
        release();

        await expect
          .poll(async () => (await botParts(conv.id)).map((p) => p.status), { timeout: 15_000 })
          .toEqual(['failed', 'failed', 'failed']);
        await settle();
        const parts = await botParts(conv.id);
        expect(parts.map((p) => p.error)).toEqual(
          parts.map(() => 'Not sent: a person took over the conversation before it went out'),
        );
        expect(requestsTo(phone).filter((r) => r.at > takenOverAt)).toEqual([]);
        expect(h.wasender.sent.filter((s) => s.to === `+${phone}`)).toEqual([]);
        expect((await conversationOf(phone)).owner).toBe('human');
      } finally {
        release?.();
      }
    },
  );

  it('the handoff message, queued after the owner changed, still goes out after a 429', async () => {
    const phone = '14155550439';
    h.wasender.script({ status: 429, retryAfter: 86_400 });
    await h.post(textWebhook({ phone, text: 'can I talk to a real person please' }));
    const conv = await conversationOf(phone);
    await expect
      .poll(async () => (await botParts(conv.id)).map((p) => p.status), { timeout: 15_000 })
      .toEqual(['sent']);
    expect(h.wasender.sent.filter((s) => s.to === `+${phone}`).map((s) => s.text)).toEqual([
      h.runtime.persona.handoff.message,
    ]);
    expect(requestsTo(phone)).toHaveLength(2);
    expect((await conversationOf(phone)).owner).toBe('human');
  });
});
