import { sql } from 'drizzle-orm';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gatewayPhoneToE164, toE164 } from '../../server/phone';
import { MAX_NAME_CHARS, MAX_TEXT_CHARS, TRUNCATION_MARKER } from '../../server/pipeline/payload';
import { newId, textWebhook, WEBHOOK_SECRET } from '../helpers/pipeline';
import { createTestRuntime, type TestRuntime } from '../helpers/runtime';

// Nothing the gateway sends is dropped without a trace: real numbers the phone library does not know
// are stored, and what cannot be handled is kept as a dead letter that admins list, retry or dismiss.
let t: TestRuntime;
beforeAll(async () => {
  t = await createTestRuntime({
    WASENDER_WEBHOOK_SECRET: WEBHOOK_SECRET,
    REPLY_QUIET_MS: '600000',
    WEBHOOK_BODY_LIMIT_BYTES: String(8 * 1024 * 1024),
  });
});
afterAll(() => t?.close());

async function post(body: unknown) {
  const res = await (await t.app()).inject({
    method: 'POST',
    url: '/webhook',
    headers: { 'content-type': 'application/json', 'x-webhook-signature': WEBHOOK_SECRET },
    payload: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: res.statusCode, body: res.json() as Record<string, unknown> };
}

const rows = async <T>(query: ReturnType<typeof sql>) =>
  [...(await t.runtime.database.db.execute(query))] as T[];

async function inboundOf(phone: string) {
  return rows<{ body: string; push_name: string | null; provider_message_id: string }>(sql`
    select m.body, c.push_name, m.provider_message_id from messages m
    join conversations v on v.id = m.conversation_id join contacts c on c.id = v.contact_id
    where c.phone = ${phone} and m.direction = 'inbound' order by m.created_at`);
}

const lidOnly = (lid: string, text: string, id = newId()) => ({
  event: 'messages.upsert',
  data: { messages: { key: { id, fromMe: false, remoteJid: lid }, message: { conversation: text } } },
});

describe('numbers WhatsApp delivers from', () => {
  it.each([
    ['US 555 number', '15551234567'],
    ['UK 07700 900 drama range', '447700900123'],
    ['legacy Ivory Coast 8-digit number', '22507123456'],
    ['Mexican 52-1 mobile id', '5215512345678'],
  ])('stores a message from a %s, which the phone library refuses', async (_, digits) => {
    expect(toE164(`+${digits}`, 'US')).toBeNull();
    const res = await post(textWebhook({ phone: digits, text: `hello from ${digits}` }));
    expect(res).toMatchObject({ status: 200, body: { stored: 1, deadLettered: 0 } });
    expect((await inboundOf(`+${digits}`)).map((m) => m.body)).toEqual([`hello from ${digits}`]);
  });

  it('stores any plausible E.164 number (7-15 digits) the gateway gives', async () => {
    await fc.assert(
      fc.asyncProperty(fc.stringMatching(/^[1-9][0-9]{6,14}$/), async (digits) => {
        const res = await post(textWebhook({ phone: digits, text: 'any number' }));
        expect(res.status).toBe(200);
        expect(res.body).toMatchObject({ deadLettered: 0 });
        expect((await inboundOf(`+${digits}`)).length).toBeGreaterThanOrEqual(1);
      }),
      { numRuns: 25 },
    );
  }, 60_000);

  it('keeps strict validation for numbers people type, with the full metadata', () => {
    expect(toE164('(415) 555-0123', 'US')).toBe('+14155550123');
    expect(toE164('+1 555 123 4567', 'US')).toBeNull();
    expect(toE164('not a number', 'US')).toBeNull();
    expect(gatewayPhoneToE164('5215512345678')).toBe('+5215512345678');
    for (const bad of ['012345678', '123456', '1234567890123456', '12a4567']) {
      expect(gatewayPhoneToE164(bad)).toBeNull();
    }
  });
});

describe('dead letters', () => {
  it('a first message from a sender known only by a LID is kept, and stored by a retry once the LID is known', async () => {
    const id = newId();
    const first = await post(lidOnly('77665544332211@lid', 'hi, lid only', id));
    expect(first).toMatchObject({ status: 200, body: { stored: 0, deadLettered: 1 } });
    const open = await t.caller('admin').system.deadLetters({ filter: 'open' });
    const letter = open.items.find((d) => d.providerMessageId === id)!;
    expect(letter).toMatchObject({ source: 'wasender.webhook', attempts: 0, resolvedAt: null });
    expect(letter.reason).toMatch(/LID/);
    expect((await t.caller('agent').stats.systemStatus()).deadLetters.open).toBeGreaterThanOrEqual(1);

    // Retried while the LID is still unknown: it stays open, with the attempt recorded.
    const again = await t.caller('admin').system.retryDeadLetter({ id: letter.id });
    expect(again).toMatchObject({ resolved: false, deadLetter: { attempts: 1, resolvedAt: null } });
    expect(again.deadLetter.lastError).toMatch(/LID/);

    // The same person writes with a phone number and the LID: the retry now finds the contact.
    await post(textWebhook({ phone: '14155558801', lid: '77665544332211@lid', text: 'now with a number' }));
    const done = await t.caller('admin').system.retryDeadLetter({ id: letter.id });
    expect(done).toMatchObject({ resolved: true, deadLetter: { attempts: 2, lastError: null } });
    expect(done.deadLetter.resolvedAt).toBeInstanceOf(Date);
    expect((await inboundOf('+14155558801')).map((m) => m.body).sort()).toEqual([
      'hi, lid only',
      'now with a number',
    ]);
    const after = await t.caller('admin').system.deadLetters({ filter: 'open' });
    expect(after.items.some((d) => d.id === letter.id)).toBe(false);
    await expect(t.caller('admin').system.retryDeadLetter({ id: letter.id })).rejects.toMatchObject({
      code: 'CONFLICT',
    });
  });

  it('a message with no readable sender is kept, not dropped', async () => {
    const res = await post({
      event: 'messages.upsert',
      data: { messages: { key: { id: newId(), remoteJid: 'garbage' }, message: { conversation: 'x' } } },
    });
    expect(res).toMatchObject({ status: 200, body: { stored: 0, deadLettered: 1 } });
  });

  it('lists newest first with keyset pages; dismiss resolves without storing', async () => {
    const ids = Array.from({ length: 5 }, () => newId());
    for (const id of ids) await post(lidOnly(`1${id.replace(/\D/g, '').slice(0, 12)}@lid`, 'page me', id));
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page = await t.caller('admin').system.deadLetters({ filter: 'all', limit: 2, cursor });
      expect(page.items.length).toBeLessThanOrEqual(2);
      seen.push(...page.items.map((d) => d.providerMessageId ?? ''));
      cursor = page.nextCursor;
    } while (cursor);
    const ours = seen.filter((s) => ids.includes(s));
    expect(ours).toEqual([...ids].reverse());
    expect(new Set(seen).size).toBe(seen.length);

    const all = await t.caller('admin').system.deadLetters({ filter: 'all', limit: 100 });
    const target = all.items.find((d) => d.providerMessageId === ids[0])!;
    const dismissed = await t.caller('admin').system.dismissDeadLetter({ id: target.id });
    expect(dismissed.resolvedAt).toBeInstanceOf(Date);
    expect(dismissed.lastError).toMatch(/dismissed by/);
    const open = await t.caller('admin').system.deadLetters({ limit: 100 });
    expect(open.items.some((d) => d.id === target.id)).toBe(false);
    await expect(t.caller('admin').system.dismissDeadLetter({ id: target.id })).rejects.toMatchObject({
      code: 'CONFLICT',
    });
    await expect(
      t.caller('admin').system.dismissDeadLetter({ id: '00000000-0000-4000-8000-000000000000' }),
    ).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });

  it('is for admins only: agents get 403, callers without a key 401', async () => {
    const some = (await t.caller('admin').system.deadLetters({ filter: 'all' })).items[0]!;
    for (const call of [
      () => t.caller('agent').system.deadLetters({}),
      () => t.caller('agent').system.retryDeadLetter({ id: some.id }),
      () => t.caller('agent').system.dismissDeadLetter({ id: some.id }),
    ]) {
      await expect(call()).rejects.toMatchObject({ code: 'FORBIDDEN' });
    }
    await expect(t.caller(null).system.deadLetters({})).rejects.toMatchObject({ code: 'UNAUTHORIZED' });
    const app = await t.app();
    const agentKey = await t.key('agent');
    const res = await app.inject({
      url: '/trpc/system.deadLetters',
      headers: { authorization: `Bearer ${agentKey}` },
    });
    expect(res.statusCode).toBe(403);
  });
});

describe('poison and oversized input in a webhook', () => {
  it('NUL and lone surrogates in text, pushName or id do not block the messages around them', async () => {
    const phone = '14155558802';
    const entries = [
      { id: 'P-1\u0000', pushName: 'Ana\u0000', text: 'one\u0000' },
      { id: 'P-2\uD800', pushName: '\uDFFFAna', text: 'two\uD83D' },
      { id: 'P-3', pushName: 'Ana', text: 'three' },
    ].map((e) => ({
      key: { id: e.id, fromMe: false, remoteJid: `${phone}@s.whatsapp.net` },
      pushName: e.pushName,
      message: { conversation: e.text },
    }));
    const res = await post({ event: 'messages.upsert', data: { messages: entries } });
    expect(res).toMatchObject({ status: 200, body: { stored: 3, deadLettered: 0 } });
    const stored = await inboundOf(`+${phone}`);
    expect(stored.map((m) => m.body)).toEqual(['one', 'two\uFFFD', 'three']);
    expect(stored.map((m) => m.provider_message_id)).toEqual(['P-1', 'P-2\uFFFD', 'P-3']);
  });

  it('bounds what is stored: a 4 MB text, a 1 MB name; a 100 KB id is a dead letter', async () => {
    const phone = '14155558803';
    const big = {
      key: { id: newId(), fromMe: false, remoteJid: `${phone}@s.whatsapp.net` },
      pushName: 'N'.repeat(1024 * 1024),
      message: { conversation: 'T'.repeat(4 * 1024 * 1024) },
    };
    const longId = {
      key: { id: 'L'.repeat(100 * 1024), fromMe: false, remoteJid: `${phone}@s.whatsapp.net` },
      message: { conversation: 'long id' },
    };
    const res = await post({ event: 'messages.upsert', data: { messages: [big, longId] } });
    expect(res).toMatchObject({ status: 200, body: { stored: 1, deadLettered: 1 } });
    const [m] = await inboundOf(`+${phone}`);
    expect(m!.body).toBe('T'.repeat(MAX_TEXT_CHARS) + TRUNCATION_MARKER);
    expect(m!.push_name).toBe('N'.repeat(MAX_NAME_CHARS));
    const [letter] = await rows<{ reason: string; id_len: number }>(sql`
      select reason, length(provider_message_id) as id_len from dead_letters
      where reason like '%key.id: is 102400 characters long%'`);
    expect(letter?.id_len).toBe(256);
  });
});
