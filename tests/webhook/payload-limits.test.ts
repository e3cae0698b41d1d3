import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  MAX_ID_CHARS,
  MAX_NAME_CHARS,
  MAX_TEXT_CHARS,
  parseWebhook,
  rawEntryOf,
  sanitizeJson,
  TRUNCATION_MARKER,
  toTimestamp,
  type WebhookItem,
} from '../../server/pipeline/payload';

// What reaches the database from a webhook is bounded and storable, whatever the gateway (or
// someone holding its secret) sends: no NUL, no lone surrogate, no field larger than its limit.

const NOW = new Date('2025-06-01T12:00:00.000Z');

function items(body: unknown): WebhookItem[] {
  const parsed = parseWebhook(body, { now: NOW });
  if (!parsed.ok) throw new Error(`expected ok, got ${parsed.error}`);
  return parsed.items;
}

const message = (over: {
  id?: unknown;
  text?: unknown;
  pushName?: unknown;
  ts?: unknown;
  jid?: unknown;
}) => ({
  key: { id: over.id ?? 'ID1', fromMe: false, remoteJid: over.jid ?? '14155550100@s.whatsapp.net' },
  pushName: over.pushName ?? 'Ana',
  messageTimestamp: over.ts ?? 1_717_000_000,
  message: { conversation: over.text ?? 'hello' },
});

/** True when Postgres text would refuse the string (NUL) or UTF-8 cannot carry it (lone surrogate). */
function unstorable(s: string): boolean {
  return (
    s.includes('\u0000') || /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(s)
  );
}

function strings(value: unknown, out: string[] = []): string[] {
  if (typeof value === 'string') out.push(value);
  else if (Array.isArray(value)) for (const v of value) strings(v, out);
  else if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      out.push(k);
      strings(v, out);
    }
  }
  return out;
}

const hostileChar = fc.constantFrom('\u0000', '\uD800', '\uDFFF', '\uDBFF\uDFFF', 'a', '€', '\n');
const hostileString = fc.oneof(
  fc.string({ unit: 'binary' }),
  fc.array(hostileChar, { maxLength: 30 }).map((cs) => cs.join('')),
);

describe('parseWebhook: storable and bounded fields', () => {
  it('strips NUL and replaces lone surrogates in every field, for any input', () => {
    fc.assert(
      fc.property(hostileString, hostileString, hostileString, hostileString, (id, text, name, jid) => {
        const parsed = parseWebhook(
          { event: 'messages.upsert', data: { messages: [message({ id, text, pushName: name, jid })] } },
          { now: NOW },
        );
        expect(parsed.ok).toBe(true);
        if (!parsed.ok) return;
        for (const item of parsed.items) {
          for (const s of strings(item)) expect(unstorable(s)).toBe(false);
          for (const s of strings(rawEntryOf(item))) expect(unstorable(s)).toBe(false);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('keeps a NUL-laden message, without the NULs', () => {
    const [item] = items({
      event: 'messages.upsert',
      data: { messages: message({ id: 'A\u0000B', text: 'hi\u0000 there', pushName: 'N\u0000ame' }) },
    });
    expect(item).toMatchObject({ kind: 'message', providerId: 'AB', text: 'hi there', pushName: 'Name' });
  });

  it('cuts a text longer than WhatsApp allows at 65,536 characters, marked, and never splits a pair', () => {
    const [item] = items({
      event: 'messages.upsert',
      data: { messages: message({ text: 'x'.repeat(4_000_000) }) },
    });
    expect(item?.kind === 'message' && item.text).toBe('x'.repeat(MAX_TEXT_CHARS) + TRUNCATION_MARKER);
    // A surrogate pair straddling the limit is dropped whole.
    const pairs = `${'a'.repeat(MAX_TEXT_CHARS - 1)}😀tail`;
    const [p] = items({ event: 'messages.upsert', data: { messages: message({ text: pairs }) } });
    const text = p?.kind === 'message' ? p.text! : '';
    expect(text.endsWith(TRUNCATION_MARKER)).toBe(true);
    expect(unstorable(text)).toBe(false);
    // A text at the limit is kept as it is.
    const [exact] = items({
      event: 'messages.upsert',
      data: { messages: message({ text: 'y'.repeat(MAX_TEXT_CHARS) }) },
    });
    expect(exact?.kind === 'message' && exact.text).toBe('y'.repeat(MAX_TEXT_CHARS));
  });

  it('cuts names at 256 characters and session statuses likewise', () => {
    const [item] = items({
      event: 'messages.upsert',
      data: { messages: message({ pushName: 'n'.repeat(1_000_000) }) },
    });
    expect(item?.kind === 'message' && item.pushName?.length).toBe(MAX_NAME_CHARS);
    const [session] = items({ event: 'session.status', data: { status: 's'.repeat(10_000) } });
    expect(session?.kind === 'session' && session.status.length).toBe(MAX_NAME_CHARS);
  });

  it('refuses an id too long to be real (never cut: ids stay unique), and keeps the other entries', () => {
    const long = 'I'.repeat(100_000);
    const parsed = items({
      event: 'messages.upsert',
      data: { messages: [message({ id: 'GOOD1' }), message({ id: long }), message({ id: 'GOOD2' })] },
    });
    expect(parsed.map((i) => i.kind)).toEqual(['message', 'rejected', 'message']);
    const rejected = parsed[1]!;
    if (rejected.kind !== 'rejected') throw new Error('expected rejected');
    expect(rejected.reason).toMatch(/^data\.messages\[1\]\.key\.id: is 100000 characters long/);
    expect(rejected.providerId).toHaveLength(MAX_ID_CHARS);
    // Exactly at the limit is a valid id.
    expect(
      items({ event: 'messages.upsert', data: { messages: message({ id: 'J'.repeat(MAX_ID_CHARS) }) } })[0]
        ?.kind,
    ).toBe('message');
    for (const event of ['messages.update', 'message.sent']) {
      const [s] = items({ event, data: { key: { id: long }, update: { status: 3 } } });
      expect(s?.kind).toBe('rejected');
    }
  });

  it('keeps the entries around a malformed one; the malformed one is a rejected item with its raw entry', () => {
    const bad = { key: { id: 'BAD', remoteJid: 42 }, message: { conversation: 'x\u0000' } };
    const parsed = items({
      event: 'messages.upsert',
      data: { messages: [message({ id: 'G1' }), bad, message({ id: 'G2' })] },
    });
    expect(parsed.map((i) => i.kind)).toEqual(['message', 'rejected', 'message']);
    expect(parsed[1]).toMatchObject({
      kind: 'rejected',
      providerId: 'BAD',
      reason: expect.stringMatching(/^data\.messages\[1\]\.key\.remoteJid: /),
      raw: {
        event: 'messages.upsert',
        data: { key: { id: 'BAD', remoteJid: 42 }, message: { conversation: 'x' } },
      },
    });
  });

  it('gives each item its entry as a one-entry webhook that parses to the same item', () => {
    const body = {
      event: 'messages.upsert',
      data: { messages: [message({ id: 'R1', text: 'one' }), message({ id: 'R2', text: 'two' })] },
    };
    for (const item of items(body)) {
      const raw = rawEntryOf(item);
      expect(raw).not.toBeNull();
      expect(items(raw)).toEqual([item]);
    }
    const sent = items({ event: 'message.sent', data: { key: { id: 'S1' }, msgId: 77 } });
    expect(items(rawEntryOf(sent[0]!))).toEqual(sent);
  });

  it('reads no time outside what Postgres and ISO dates hold', () => {
    for (const v of [1e15, 8.64e15, 253402300800000, '99999999999999999', { low: -1, high: 0x7fffffff }]) {
      expect(toTimestamp(v)).toBeNull();
    }
    expect(toTimestamp(253402300799999)?.toISOString()).toBe('9999-12-31T23:59:59.999Z');
    fc.assert(
      fc.property(fc.oneof(fc.double(), fc.integer(), fc.bigInt().map(String), fc.string()), (v) => {
        const d = toTimestamp(v);
        if (d) {
          expect(d.getUTCFullYear()).toBeGreaterThanOrEqual(1970);
          expect(d.getUTCFullYear()).toBeLessThanOrEqual(9999);
        }
      }),
    );
    const [item] = items({
      event: 'messages.upsert',
      timestamp: 1e300,
      data: { messages: message({ ts: 1e300 }) },
    });
    expect(item?.kind === 'message' && item.timestamp).toEqual(NOW);
  });

  it('sanitizeJson makes any JSON value storable as jsonb', () => {
    fc.assert(
      fc.property(fc.jsonValue(), hostileString, (v, s) => {
        const out = sanitizeJson({ [s]: v, s });
        for (const str of strings(out)) expect(unstorable(str)).toBe(false);
      }),
    );
  });
});
