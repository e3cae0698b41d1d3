import { and, eq, inArray, or } from 'drizzle-orm';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { earlyStatuses, type MessageStatus, messages, tasks } from '../../drizzle';
import {
  conversationByPhone,
  newId,
  type PipelineHarness,
  sendsTo,
  startPipeline,
  statusWebhook,
  textWebhook,
} from '../helpers/pipeline';

/**
 * What the gateway says about our own messages, in any order: echoes (`fromMe`), `message.sent`
 * (WhatsApp's id with WaSender's msgId), delivery statuses, and the send response itself.
 */
let h: PipelineHarness;
beforeAll(async () => {
  // A long gateway timeout: the property test holds send responses while it posts webhooks.
  h = await startPipeline({ REPLY_QUIET_MS: '100', WASENDER_TIMEOUT_MS: '30000' });
});
afterAll(() => h?.closeAll());

const db = () => h.runtime.database.db;
const settle = (ms = 400) => new Promise((r) => setTimeout(r, ms));

const conversationOf = (phone: string) => conversationByPhone(h, phone);

async function messageRow(id: string) {
  const [row] = await db().select().from(messages).where(eq(messages.id, id));
  return row!;
}

function sentEvent(key: string, msgId: number) {
  return { event: 'message.sent', timestamp: Date.now(), data: { key: { id: key }, msgId } };
}

async function post(body: unknown) {
  const res = await h.post(body);
  expect(res.status).toBe(200);
}

let phoneSeq = 0;
const nextPhone = () => `141555507${String(phoneSeq++).padStart(2, '0')}`;

/** An agent's message from the dashboard that went out through the fake gateway; the bot keeps the conversation. */
async function sentMessage(text: string) {
  const phone = nextPhone();
  const { messageIds, conversationId } = await h.caller('agent').conversations.start({ phone, text });
  const [sent] = await sendsTo(h, phone);
  await expect.poll(async () => (await messageRow(messageIds[0]!)).status, { timeout: 10_000 }).toBe('sent');
  return { phone, conversationId, id: messageIds[0]!, msgId: sent!.msgId, sentText: sent!.text };
}

/** Whitespace and Unicode-composition variants WhatsApp may give an echo of the same text. */
const whitespace = fc.constantFrom(' ', '  ', '\n', '\r\n', '\t', ' \n ', '\u00a0');
const word = fc.constantFrom('Hello', 'caf\u00e9', 'cafe\u0301', 'price', '42', 'é', 'ok?', 'Grüße');

describe('echo matching', () => {
  it('an echo whose whitespace or Unicode composition differs is still our own message, not a person typing', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(word, whitespace), { minLength: 1, maxLength: 6 }),
        fc.array(whitespace, { minLength: 12, maxLength: 12 }),
        async (parts, noise) => {
          const text = parts.map(([w]) => w).join(' ');
          const { phone, conversationId, id } = await sentMessage(text);
          // The same words, other whitespace around and between them, composed differently.
          const echoed = `${noise[0]}${parts.map(([w], i) => (i % 2 ? w.normalize('NFD') : w)).join(parts[0]![1])}${noise[1]}`;
          await post(textWebhook({ phone, text: echoed, fromMe: true }));
          const conv = await conversationOf(phone);
          expect(conv.owner).toBe('bot');
          const rows = await db()
            .select({ id: messages.id })
            .from(messages)
            .where(eq(messages.conversationId, conversationId));
          expect(rows.map((r) => r.id)).toEqual([id]);
          expect((await messageRow(id)).providerMessageId).not.toBeNull();
        },
      ),
      { numRuns: 8 },
    );
  });

  it('an echo is matched by id when `message.sent` linked it first, whatever its text', async () => {
    const { phone, id, msgId } = await sentMessage('Your order ships tomorrow');
    const key = newId();
    await post(sentEvent(key, msgId));
    await post(textWebhook({ phone, id: key, text: 'Your order ships tomorrow 📦 (edited)', fromMe: true }));
    expect((await conversationOf(phone)).owner).toBe('bot');
    expect((await messageRow(id)).providerMessageId).toBe(key);
    const count = await db()
      .select({ id: messages.id })
      .from(messages)
      .where(eq(messages.providerMessageId, key));
    expect(count).toHaveLength(1);
  });

  it('text typed on the business phone that matches nothing still hands the conversation to a human', async () => {
    const { phone } = await sentMessage('We open at nine');
    await post(textWebhook({ phone, text: 'Hi, Sam here from the shop', fromMe: true }));
    expect((await conversationOf(phone)).owner).toBe('human');
  });
});

describe('status events', () => {
  it('a status that arrives before the echo is kept, then applied when the echo names the message', async () => {
    const { phone, id, sentText } = await sentMessage('Thanks, see you soon');
    const key = newId();
    await post(statusWebhook(key, 3));
    expect((await messageRow(id)).status).toBe('sent');
    await post(textWebhook({ phone, id: key, text: sentText, fromMe: true }));
    const row = await messageRow(id);
    expect(row.status).toBe('delivered');
    expect(row.deliveredAt).not.toBeNull();
    const left = await db().select().from(earlyStatuses).where(eq(earlyStatuses.providerMessageId, key));
    expect(left).toEqual([]);
  });

  it('an error status after sent fails the bot reply, with a task and the handoff', async () => {
    const phone = nextPhone();
    await post(textWebhook({ phone, text: 'what time do you close?' }));
    const [sent] = await sendsTo(h, phone);
    const byMsgId = async () =>
      (
        await db()
          .select()
          .from(messages)
          .where(eq(messages.gatewayMessageId, String(sent!.msgId)))
      )[0];
    await expect.poll(async () => (await byMsgId())?.status, { timeout: 10_000 }).toBe('sent');
    const out = await byMsgId();
    const key = newId();
    await post(sentEvent(key, sent!.msgId));
    await post(statusWebhook(key, 0));
    const row = await messageRow(out!.id);
    expect(row.status).toBe('failed');
    const conv = await conversationOf(phone);
    expect(conv.owner).toBe('human');
    const open = await db()
      .select()
      .from(tasks)
      .where(and(eq(tasks.conversationId, conv.id), eq(tasks.type, 'handoff'), eq(tasks.status, 'open')));
    expect(open).toHaveLength(1);
    expect(open[0]!.title).toContain('was not sent');
  });

  it('an error status after delivered changes nothing: the message reached the phone', async () => {
    const { id, msgId, conversationId } = await sentMessage('Your table is booked');
    const key = newId();
    await post(sentEvent(key, msgId));
    await post(statusWebhook(key, 3));
    await post(statusWebhook(key, 0));
    expect((await messageRow(id)).status).toBe('delivered');
    const open = await db().select().from(tasks).where(eq(tasks.conversationId, conversationId));
    expect(open).toEqual([]);
  });
});

/** Order of statuses for "never backwards": a failure sits between sent and delivered. */
const ORDER: Partial<Record<MessageStatus, number>> = {
  queued: 0,
  pending: 1,
  sent: 2,
  failed: 2.5,
  delivered: 3,
  read: 4,
  played: 5,
};
const STATUS_CODES: Record<number, MessageStatus> = {
  0: 'failed',
  2: 'sent',
  3: 'delivered',
  4: 'read',
  5: 'played',
};

type Event =
  | { kind: 'response' }
  | { kind: 'echo' }
  | { kind: 'linked' }
  | { kind: 'status'; code: number; byMsgId: boolean };

describe('receipts in any order', () => {
  it('the send response, the echo, message.sent and statuses give the same final status whatever their order, never moving back', async () => {
    let run = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.record({ code: fc.constantFrom(0, 2, 3, 4, 5), byMsgId: fc.boolean() }), {
          minLength: 0,
          maxLength: 4,
        }),
        fc.boolean(),
        fc.integer({ min: 0, max: 1_000_000 }),
        async (statuses, withLinked, seed) => {
          run++;
          const phone = nextPhone();
          const msgId = 900_000 + run * 10 + Math.floor(Math.random() * 10);
          const key = newId();
          let release!: () => void;
          h.wasender.script({ gate: new Promise<void>((r) => (release = r)), msgId });
          const before = h.wasender.requests.length;
          const text = `Receipt check ${run}`;
          const { messageIds } = await h.caller('agent').conversations.start({ phone, text });
          const id = messageIds[0]!;
          await expect.poll(() => h.wasender.requests.length, { timeout: 10_000 }).toBeGreaterThan(before);

          const events: Event[] = [
            { kind: 'response' },
            { kind: 'echo' },
            ...(withLinked ? [{ kind: 'linked' } as const] : []),
            ...statuses.map((s) => ({ kind: 'status', ...s }) as const),
          ];
          // A seeded shuffle: fast-check shrinks the seed along with the rest.
          let x = seed;
          for (let i = events.length - 1; i > 0; i--) {
            x = (x * 1103515245 + 12345) % 2_147_483_648;
            const j = x % (i + 1);
            [events[i], events[j]] = [events[j]!, events[i]!];
          }

          const seen: MessageStatus[] = [];
          for (const e of events) {
            if (e.kind === 'response') {
              release();
              await expect
                .poll(async () => (await messageRow(id)).gatewayMessageId, { timeout: 10_000 })
                .toBe(String(msgId));
            } else if (e.kind === 'echo') {
              await post(textWebhook({ phone, id: key, text, fromMe: true }));
            } else if (e.kind === 'linked') {
              await post(sentEvent(key, msgId));
            } else {
              const body = statusWebhook(key, e.code) as { data: Record<string, unknown> };
              // Some statuses carry WaSender's msgId beside WhatsApp's id.
              if (e.byMsgId) body.data = { ...body.data, msgId };
              await post(body);
            }
            seen.push((await messageRow(id)).status);
          }

          // Never backwards.
          for (let i = 1; i < seen.length; i++) {
            expect(ORDER[seen[i]!]!).toBeGreaterThanOrEqual(ORDER[seen[i - 1]!]!);
          }
          // The same result whatever the order.
          const given = statuses.map((s) => STATUS_CODES[s.code]!);
          const arrived = given.filter((s) => ORDER[s]! >= 3);
          const expected: MessageStatus = arrived.length
            ? arrived.reduce((a, b) => (ORDER[a]! >= ORDER[b]! ? a : b))
            : given.includes('failed')
              ? 'failed'
              : 'sent';
          const row = await messageRow(id);
          expect(row.status).toBe(expected);
          // Nothing kept for a message that is known now.
          const kept = await db()
            .select()
            .from(earlyStatuses)
            .where(
              or(eq(earlyStatuses.providerMessageId, key), eq(earlyStatuses.gatewayMessageId, String(msgId))),
            );
          expect(kept).toEqual([]);
          // A reported failure reached a person; none without one. Never sent twice, never as a person typing.
          const conv = await conversationOf(phone);
          const open = await db()
            .select()
            .from(tasks)
            .where(and(eq(tasks.conversationId, conv.id), inArray(tasks.type, ['handoff'])));
          if (expected === 'failed') expect(open).toHaveLength(1);
          if (!given.includes('failed')) expect(open).toEqual([]);
          expect(h.wasender.sent.filter((s) => s.to === `+${phone}`)).toHaveLength(1);
          const rows = await db()
            .select({ id: messages.id })
            .from(messages)
            .where(eq(messages.conversationId, conv.id));
          expect(rows).toHaveLength(1);
          await settle(0);
        },
      ),
      { numRuns: 20 },
    );
  });
});
