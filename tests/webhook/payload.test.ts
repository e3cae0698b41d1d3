import { describe, expect, it } from 'vitest';
import {
  extractText,
  mapStatus,
  parseWebhook,
  toTimestamp,
  type WebhookItem,
  type WebhookMessageItem,
  type WebhookStatusItem,
} from '../../server/pipeline/payload';

const NOW = new Date('2025-06-01T12:00:00.000Z');

function ok(body: unknown): { event: string; items: WebhookItem[] } {
  const parsed = parseWebhook(body, { now: NOW });
  if (!parsed.ok) throw new Error(`expected ok, got error: ${parsed.error}`);
  return { event: parsed.event, items: parsed.items };
}

function messages(body: unknown): WebhookMessageItem[] {
  return ok(body).items.map((item) => {
    if (item.kind !== 'message') throw new Error(`expected a message item, got ${item.kind}`);
    return item;
  });
}

function oneMessage(body: unknown): WebhookMessageItem {
  const items = messages(body);
  expect(items).toHaveLength(1);
  return items[0]!;
}

function statuses(body: unknown): WebhookStatusItem[] {
  return ok(body).items.map((item) => {
    if (item.kind !== 'status') throw new Error(`expected a status item, got ${item.kind}`);
    return item;
  });
}

/** The body's error, or the reason the first refused entry gives (the other entries still parse). */
function errorOf(body: unknown): string {
  const parsed = parseWebhook(body, { now: NOW });
  if (!parsed.ok) return parsed.error;
  const rejected = parsed.items.find((i) => i.kind === 'rejected');
  if (!rejected) throw new Error(`expected an error, got ${parsed.items.length} items`);
  return rejected.reason;
}

// The documented `messages.received` example (data.messages is a single object).
const documentedReceived = {
  event: 'messages.received',
  timestamp: 1633456789,
  data: {
    messages: {
      key: {
        id: '3EB0X123456789',
        fromMe: false,
        remoteJid: '1234567890@s.whatsapp.net',
        addressingMode: 'pn',
        senderPn: '1234567890@s.whatsapp.net',
        cleanedSenderPn: '1234567890',
        senderLid: '555555555@lid',
      },
      messageBody: 'Hello, I have a question',
      message: { conversation: 'Hello, I have a question' },
    },
  },
};

describe('parseWebhook: incoming messages', () => {
  it('parses the documented messages.received text message', () => {
    const m = oneMessage(documentedReceived);
    expect(m).toEqual({
      kind: 'message',
      providerId: '3EB0X123456789',
      chatJid: '1234567890@s.whatsapp.net',
      phone: '1234567890',
      lid: '555555555@lid',
      fromMe: false,
      pushName: null,
      type: 'text',
      text: 'Hello, I have a question',
      // No messageTimestamp: the envelope timestamp (seconds) is used.
      timestamp: new Date(1633456789 * 1000),
      isGroup: false,
      isBroadcast: false,
      isNewsletter: false,
      isProtocol: false,
    });
  });

  it('falls back to the injected clock when neither the message nor the envelope has a timestamp', () => {
    const { timestamp: _ignored, ...body } = documentedReceived;
    expect(oneMessage(body).timestamp).toEqual(NOW);
  });

  it('uses the real clock when no clock is injected and there is no timestamp', () => {
    const before = Date.now();
    const parsed = parseWebhook({
      event: 'messages.received',
      data: { messages: { key: { id: 'A', remoteJid: '1234567890@s.whatsapp.net' }, messageBody: 'x' } },
    });
    const after = Date.now();
    if (!parsed.ok || parsed.items[0]?.kind !== 'message') throw new Error('expected a message');
    expect(parsed.items[0].timestamp.getTime()).toBeGreaterThanOrEqual(before);
    expect(parsed.items[0].timestamp.getTime()).toBeLessThanOrEqual(after);
  });

  it('reads extendedTextMessage.text when there is no messageBody', () => {
    const m = oneMessage({
      event: 'messages.upsert',
      data: {
        messages: {
          key: { id: 'EXT1', fromMe: false, remoteJid: '447700900123@s.whatsapp.net' },
          pushName: '  Alice  ',
          messageTimestamp: 1717000000,
          message: {
            extendedTextMessage: { text: 'see https://example.com', matchedText: 'https://example.com' },
          },
        },
      },
    });
    expect(m.type).toBe('text');
    expect(m.text).toBe('see https://example.com');
    expect(m.pushName).toBe('Alice');
    expect(m.phone).toBe('447700900123');
    expect(m.timestamp).toEqual(new Date(1717000000 * 1000));
  });

  it('reads an image caption and types the message as image', () => {
    const m = oneMessage({
      event: 'messages.upsert',
      data: {
        messages: {
          key: { id: 'IMG1', fromMe: false, remoteJid: '15551234567@s.whatsapp.net' },
          message: {
            imageMessage: {
              url: 'https://mmg.whatsapp.net/x.enc',
              mimetype: 'image/jpeg',
              mediaKey: 'abc',
              caption: 'my invoice',
            },
          },
        },
      },
    });
    expect(m.type).toBe('image');
    expect(m.text).toBe('my invoice');
  });

  it('types media without a caption and leaves text null', () => {
    const types: Array<[string, WebhookMessageItem['type']]> = [
      ['audioMessage', 'audio'],
      ['pttMessage', 'audio'],
      ['videoMessage', 'video'],
      ['documentMessage', 'document'],
      ['stickerMessage', 'sticker'],
      ['locationMessage', 'location'],
      ['contactMessage', 'contact'],
      ['reactionMessage', 'reaction'],
      ['pollCreationMessage', 'other'],
    ];
    for (const [key, type] of types) {
      const m = oneMessage({
        event: 'messages.upsert',
        data: { key: { id: key, remoteJid: '15551234567@s.whatsapp.net' }, message: { [key]: { url: 'u' } } },
      });
      expect(m.type, key).toBe(type);
      expect(m.text, key).toBeNull();
      expect(m.isProtocol, key).toBe(false);
    }
  });

  it('unwraps ephemeral and view-once wrappers', () => {
    const m = oneMessage({
      event: 'messages.upsert',
      data: {
        key: { id: 'EPH', remoteJid: '15551234567@s.whatsapp.net' },
        message: {
          ephemeralMessage: {
            message: { viewOnceMessageV2: { message: { imageMessage: { caption: 'secret pic' } } } },
          },
        },
      },
    });
    expect(m.type).toBe('image');
    expect(m.text).toBe('secret pic');
  });

  it('handles EVERY element when data.messages is an array', () => {
    const items = messages({
      event: 'messages.upsert',
      data: {
        type: 'notify',
        messages: [
          {
            key: { id: 'ARR1', fromMe: false, remoteJid: '111111111@s.whatsapp.net' },
            message: { conversation: 'first' },
            messageTimestamp: 1700000000,
          },
          {
            key: { id: 'ARR2', fromMe: false, remoteJid: '222222222@s.whatsapp.net' },
            message: { conversation: 'second' },
            messageTimestamp: 1700000001,
          },
          {
            key: { id: 'ARR3', fromMe: true, remoteJid: '333333333@s.whatsapp.net' },
            message: { conversation: 'third' },
            messageTimestamp: 1700000002,
          },
        ],
      },
    });
    expect(items.map((m) => [m.providerId, m.phone, m.text, m.fromMe])).toEqual([
      ['ARR1', '111111111', 'first', false],
      ['ARR2', '222222222', 'second', false],
      ['ARR3', '333333333', 'third', true],
    ]);
  });

  it('accepts an empty messages array as zero items', () => {
    expect(ok({ event: 'messages.upsert', data: { messages: [] } }).items).toEqual([]);
  });

  it('accepts the message directly under data (messages-personal.received)', () => {
    const m = oneMessage({
      event: 'messages-personal.received',
      timestamp: 1633456789,
      data: {
        key: { id: 'PERS1', fromMe: false, remoteJid: '1234567890@s.whatsapp.net' },
        pushName: 'John',
        message: { conversation: 'Hi' },
        messageTimestamp: '1633456789',
      },
    });
    expect(m.providerId).toBe('PERS1');
    expect(m.text).toBe('Hi');
    expect(m.pushName).toBe('John');
    expect(m.timestamp).toEqual(new Date(1633456789 * 1000));
  });

  it('takes the phone from cleanedSenderPn when the chat is a LID, and keeps the LID', () => {
    const m = oneMessage({
      event: 'messages.received',
      data: {
        messages: {
          key: {
            id: 'WLID1',
            fromMe: false,
            remoteJid: '98711384416410@lid',
            addressingMode: 'lid',
            senderPn: '5511999998888@s.whatsapp.net',
            cleanedSenderPn: '5511999998888',
            senderLid: '98711384416410@lid',
          },
          pushName: 'Prii',
          message: { conversation: 'oi' },
        },
      },
    });
    expect(m.chatJid).toBe('98711384416410@lid');
    expect(m.phone).toBe('5511999998888');
    expect(m.lid).toBe('98711384416410@lid');
  });

  it('never treats a @lid remoteJid as a phone', () => {
    const m = oneMessage({
      event: 'messages.received',
      data: {
        messages: { key: { id: 'WLID2', remoteJid: '2222222222222@lid' }, message: { conversation: 'ping' } },
      },
    });
    expect(m.phone).toBeNull();
    expect(m.lid).toBe('2222222222222@lid');
  });

  it('falls back to senderPn (including @c.us) when cleanedSenderPn is unusable', () => {
    for (const cleaned of ['invalid', '123', [], {}, '']) {
      const m = oneMessage({
        event: 'messages.received',
        data: {
          messages: {
            key: {
              id: 'FB',
              remoteJid: '123456789012345@lid',
              cleanedSenderPn: cleaned,
              senderPn: '5551999990000@c.us',
            },
            messageBody: 'x',
          },
        },
      });
      expect(m.phone, JSON.stringify(cleaned)).toBe('5551999990000');
    }
  });

  it('uses remoteJidAlt for a LID chat without sender fields', () => {
    const m = oneMessage({
      event: 'messages.upsert',
      data: {
        key: { id: 'ALT', remoteJid: '278472945594535@lid', remoteJidAlt: '5511988887777@s.whatsapp.net' },
        message: { conversation: 'ok' },
      },
    });
    expect(m.phone).toBe('5511988887777');
    expect(m.lid).toBe('278472945594535@lid');
  });

  it('strips a device suffix and formatting from phone JIDs', () => {
    const m = oneMessage({
      event: 'messages.upsert',
      data: { key: { id: 'DEV', remoteJid: '447700900123:12@s.whatsapp.net' }, messageBody: 'x' },
    });
    expect(m.phone).toBe('447700900123');
    const plus = oneMessage({
      event: 'messages.upsert',
      data: { key: { id: 'PLUS', remoteJid: 'x@lid', cleanedSenderPn: '+44 7700 900123' }, messageBody: 'x' },
    });
    expect(plus.phone).toBe('447700900123');
  });

  it('identifies the participant in a group chat', () => {
    const m = oneMessage({
      event: 'messages.upsert',
      data: {
        messages: {
          key: {
            id: 'GRP1',
            fromMe: false,
            remoteJid: '120363025246125486@g.us',
            participant: '77777777777@lid',
            participantPn: '4915112345678@s.whatsapp.net',
            cleanedParticipantPn: '4915112345678',
            // The sender fields would name someone else; groups must use the participant fields.
            cleanedSenderPn: '1111111111',
          },
          pushName: 'Hans',
          message: { conversation: 'hello group' },
        },
      },
    });
    expect(m.isGroup).toBe(true);
    expect(m.chatJid).toBe('120363025246125486@g.us');
    expect(m.phone).toBe('4915112345678');
    expect(m.lid).toBe('77777777777@lid');
  });

  it('accepts the SDK spelling cleanParticipantPn and a phone participant JID', () => {
    const a = oneMessage({
      event: 'messages.upsert',
      data: {
        key: { id: 'G2', remoteJid: '1203@g.us', cleanParticipantPn: '4915112345678' },
        messageBody: 'x',
      },
    });
    expect(a.phone).toBe('4915112345678');
    const b = oneMessage({
      event: 'messages.upsert',
      data: {
        key: { id: 'G3', remoteJid: '1203@g.us', participant: '4915112345679@s.whatsapp.net' },
        messageBody: 'x',
      },
    });
    expect(b.phone).toBe('4915112345679');
    expect(b.lid).toBeNull();
  });

  it('flags status broadcasts and newsletters', () => {
    const broadcast = oneMessage({
      event: 'messages.upsert',
      data: {
        key: { id: 'BC', remoteJid: 'status@broadcast', participant: '15551234567@s.whatsapp.net' },
        message: { imageMessage: { caption: 'my story' } },
      },
    });
    expect(broadcast.isBroadcast).toBe(true);
    expect(broadcast.isGroup).toBe(false);
    expect(broadcast.phone).toBe('15551234567');
    const news = oneMessage({
      event: 'messages.upsert',
      data: {
        key: { id: 'NL', remoteJid: '120363111111111111@newsletter' },
        message: { conversation: 'news' },
      },
    });
    expect(news.isNewsletter).toBe(true);
    expect(news.isBroadcast).toBe(false);
    expect(news.phone).toBeNull();
  });

  it('marks fromMe messages and takes the phone from the chat, not from the sender fields', () => {
    const m = oneMessage({
      event: 'messages.upsert',
      data: {
        messages: {
          key: {
            id: 'ME1',
            fromMe: true,
            remoteJid: '15557654321@s.whatsapp.net',
            // For our own sends these would be the business number.
            cleanedSenderPn: '15550000000',
            senderLid: '999@lid',
          },
          message: { conversation: 'we will call you' },
        },
      },
    });
    expect(m.fromMe).toBe(true);
    expect(m.phone).toBe('15557654321');
    expect(m.lid).toBeNull();
  });

  it('gives a fromMe message in a LID chat no phone rather than the business number', () => {
    const m = oneMessage({
      event: 'messages.upsert',
      data: {
        key: { id: 'ME2', fromMe: true, remoteJid: '278472945594535@lid', cleanedSenderPn: '15550000000' },
        message: { conversation: 'hi' },
      },
    });
    expect(m.phone).toBeNull();
    expect(m.lid).toBe('278472945594535@lid');
  });

  it('tells seconds from milliseconds, numbers from numeric strings', () => {
    const at = (messageTimestamp: unknown) =>
      oneMessage({
        event: 'messages.upsert',
        data: {
          key: { id: 'T', remoteJid: '15551234567@s.whatsapp.net' },
          messageBody: 'x',
          messageTimestamp,
        },
      }).timestamp.toISOString();
    const iso = '2024-05-29T16:26:40.000Z';
    expect(at(1717000000)).toBe(iso);
    expect(at(1717000000000)).toBe(iso);
    expect(at('1717000000')).toBe(iso);
    expect(at('1717000000000')).toBe(iso);
    expect(at({ low: 1717000000, high: 0, unsigned: true })).toBe(iso);
    // Unusable values fall back to the clock.
    expect(at('yesterday')).toBe(NOW.toISOString());
    expect(at(0)).toBe(NOW.toISOString());
    expect(at(-5)).toBe(NOW.toISOString());
  });

  it('uses a millisecond envelope timestamp as the fallback', () => {
    const m = oneMessage({
      event: 'messages.upsert',
      timestamp: 1747775431467,
      data: { key: { id: 'T2', remoteJid: '15551234567@s.whatsapp.net' }, messageBody: 'x' },
    });
    expect(m.timestamp).toEqual(new Date(1747775431467));
  });

  it('flags protocol messages', () => {
    const protocol = (message: unknown, extra: Record<string, unknown> = {}) =>
      oneMessage({
        event: 'messages.upsert',
        data: { key: { id: 'P', remoteJid: '15551234567@s.whatsapp.net' }, message, ...extra },
      });
    const revoke = protocol({ protocolMessage: { type: 0, key: { id: 'OLD' } } });
    expect(revoke.isProtocol).toBe(true);
    expect(revoke.type).toBe('other');
    expect(
      protocol({ senderKeyDistributionMessage: { groupId: 'g' }, messageContextInfo: {} }).isProtocol,
    ).toBe(true);
    expect(protocol(null, { messageStubType: 2, messageStubParameters: ['No session'] }).isProtocol).toBe(
      true,
    );
    // Key distribution riding along with a real text is still a real message.
    const withText = protocol({ senderKeyDistributionMessage: { groupId: 'g' }, conversation: 'real' });
    expect(withText.isProtocol).toBe(false);
    expect(withText.type).toBe('text');
    expect(withText.text).toBe('real');
  });

  it('keeps a message with only messageBody as text', () => {
    const m = oneMessage({
      event: 'messages.received',
      data: {
        messages: { key: { id: 'MB', remoteJid: '15551234567@s.whatsapp.net' }, messageBody: 'plain' },
      },
    });
    expect(m.type).toBe('text');
    expect(m.text).toBe('plain');
  });
});

describe('parseWebhook: statuses', () => {
  it('parses the documented messages.update with a numeric status', () => {
    const items = statuses({
      event: 'messages.update',
      sessionId: 'abc',
      data: {
        update: { status: 3 },
        key: { remoteJid: '123@s.whatsapp.net', id: '34874643876', fromMe: false },
      },
      timestamp: 1747775431467,
    });
    expect(items).toEqual([
      { kind: 'status', providerId: '34874643876', status: 'delivered', error: null, msgId: null },
    ]);
  });

  it('maps every numeric status', () => {
    const expected = ['failed', 'pending', 'sent', 'delivered', 'read', 'played'];
    expected.forEach((status, code) => {
      const [item] = statuses({
        event: 'messages.update',
        data: { key: { id: `N${code}` }, update: { status: code } },
      });
      expect(item?.status, String(code)).toBe(status);
    });
  });

  it('maps string statuses case-insensitively, as an array of updates (SDK shape)', () => {
    const items = statuses({
      event: 'messages.update',
      data: [
        { key: { id: 'S1' }, update: { status: 'DELIVERY_ACK' } },
        { key: { id: 'S2' }, update: { status: 'READ' } },
        { key: { id: 'S3' }, update: { status: 'delivered' } },
        { key: { id: 'S4' }, update: { status: 'played' } },
        { key: { id: 'S5' }, update: { status: 'SERVER_ACK' } },
        { key: { id: 'S6' }, update: { status: 'pending' } },
        { key: { id: 'S7' }, update: { status: 'error', error: 'not on WhatsApp' } },
        { key: { id: 'S8' }, update: { status: '4' } },
      ],
    });
    expect(items.map((s) => [s.providerId, s.status, s.error])).toEqual([
      ['S1', 'delivered', null],
      ['S2', 'read', null],
      ['S3', 'delivered', null],
      ['S4', 'played', null],
      ['S5', 'sent', null],
      ['S6', 'pending', null],
      ['S7', 'failed', 'not on WhatsApp'],
      ['S8', 'read', null],
    ]);
  });

  it('accepts the status directly on the entry and an error from stub parameters', () => {
    const items = statuses({
      event: 'messages.update',
      data: [
        { key: { id: 'D1' }, status: 'read' },
        { key: { id: 'D2' }, update: { status: 0, messageStubParameters: ['Message failed', '463'] } },
      ],
    });
    expect(items).toEqual([
      { kind: 'status', providerId: 'D1', status: 'read', error: null, msgId: null },
      { kind: 'status', providerId: 'D2', status: 'failed', error: 'Message failed; 463', msgId: null },
    ]);
  });

  it('skips updates that are not delivery statuses or are unknown', () => {
    const items = statuses({
      event: 'messages.update',
      data: [
        { key: { id: 'E1' }, update: { message: { editedMessage: {} } } },
        { key: { id: 'E2' }, update: { status: 42 } },
        { key: { id: 'E3' }, update: { status: 'SOMETHING_NEW' } },
        { key: { id: 'E4' }, update: { status: 2 } },
      ],
    });
    expect(items.map((s) => s.providerId)).toEqual(['E4']);
  });

  it('parses the documented message-receipt.update (group receipt)', () => {
    const items = statuses({
      event: 'message-receipt.update',
      timestamp: 1234567890123,
      data: {
        message: {
          key: {
            remoteJid: '123456789-987654321@g.us',
            id: 'RCPT1',
            fromMe: true,
            participant: '1@s.whatsapp.net',
          },
          receipt: { userJid: '1@s.whatsapp.net', receiptTimestamp: 1234567890 },
        },
      },
    });
    expect(items).toEqual([
      { kind: 'status', providerId: 'RCPT1', status: 'delivered', error: null, msgId: null },
    ]);
  });

  it('parses receipt arrays in the Baileys shape, with read and played timestamps', () => {
    const items = statuses({
      event: 'message-receipt.update',
      data: [
        { key: { id: 'R1' }, receipt: { userJid: 'a', readTimestamp: 1700000000 } },
        { key: { id: 'R2' }, receipt: { userJid: 'b', receiptTimestamp: 1, playedTimestamp: 2 } },
        { message: { key: { id: 'R3' }, receipt: { userJid: 'c', receiptTimestamp: 3 } } },
        { key: { id: 'R4' }, receipt: { userJid: 'd' } },
      ],
    });
    expect(items.map((s) => [s.providerId, s.status])).toEqual([
      ['R1', 'read'],
      ['R2', 'played'],
      ['R3', 'delivered'],
    ]);
  });

  it('maps message.sent to a sent status for key.id, keeping msgId when present', () => {
    const [a] = statuses({
      event: 'message.sent',
      data: {
        key: { id: 'WSENT1', fromMe: true, remoteJid: '5511999998888@s.whatsapp.net' },
        message: { conversation: 'done' },
        msgId: 100001,
        success: true,
      },
    });
    expect(a).toEqual({ kind: 'status', providerId: 'WSENT1', status: 'sent', error: null, msgId: '100001' });
    const [b] = statuses({
      event: 'message.sent',
      data: { messages: { key: { id: 'WSENT2', fromMe: true, remoteJid: 'x@lid' } } },
    });
    expect(b).toEqual({ kind: 'status', providerId: 'WSENT2', status: 'sent', error: null, msgId: null });
  });
});

describe('parseWebhook: session and unknown events', () => {
  it('parses session.status', () => {
    expect(ok({ event: 'session.status', data: { status: 'connected', session_id: 's1' } })).toEqual({
      event: 'session.status',
      items: [{ kind: 'session', status: 'connected' }],
    });
  });

  it('acknowledges unknown events with no items, whatever their data', () => {
    expect(ok({ event: 'qrcode.updated', data: { qr: '2@abc' } })).toEqual({
      event: 'qrcode.updated',
      items: [],
    });
    expect(ok({ event: 'messages-group.received', data: 'anything' }).items).toEqual([]);
    expect(ok({ event: 'chats.upsert' }).items).toEqual([]);
  });
});

describe('parseWebhook: malformed bodies', () => {
  it('rejects non-objects', () => {
    expect(errorOf(null)).toMatch(/^body: expected a JSON object, received null/);
    expect(errorOf('hello')).toMatch(/received string/);
    expect(errorOf([{ event: 'messages.received' }])).toMatch(/received array/);
    expect(errorOf(undefined)).toMatch(/received undefined/);
  });

  it('names a missing or invalid event', () => {
    expect(errorOf({ data: {} })).toMatch(/^event: /);
    expect(errorOf({ event: 42, data: {} })).toMatch(/^event: .*string/);
    expect(errorOf({ event: '', data: {} })).toMatch(/^event: must be a non-empty string/);
  });

  it('names a message without an id', () => {
    const error = errorOf({
      event: 'messages.received',
      data: { messages: { key: { remoteJid: '1@s.whatsapp.net' }, messageBody: 'x' } },
    });
    expect(error).toMatch(/^data\.messages\.key\.id: /);
  });

  it('names the array index of the bad element', () => {
    const error = errorOf({
      event: 'messages.upsert',
      data: {
        messages: [
          { key: { id: 'OK1', remoteJid: '1@s.whatsapp.net' }, messageBody: 'x' },
          { key: { id: 'OK2' }, messageBody: 'y' },
        ],
      },
    });
    expect(error).toMatch(/^data\.messages\[1\]\.key\.remoteJid: /);
  });

  it('names a missing key, a wrong data type and wrong field types', () => {
    expect(
      errorOf({ event: 'messages.upsert', data: { messages: { message: { conversation: 'x' } } } }),
    ).toMatch(/^data\.messages\.key: /);
    expect(errorOf({ event: 'messages.upsert', data: 'nope' })).toBe(
      'data: expected an object or an array, received string',
    );
    expect(errorOf({ event: 'messages.upsert' })).toMatch(
      /^data: expected an object or an array, received undefined/,
    );
    expect(errorOf({ event: 'messages.upsert', data: { messages: 'x' } })).toMatch(
      /^data\.messages: expected/,
    );
    expect(errorOf({ event: 'messages.upsert', data: { foo: 1 } })).toBe(
      'data: expected data.messages or a message with data.key',
    );
    expect(
      errorOf({
        event: 'messages.upsert',
        data: { key: { id: 'X', remoteJid: '1@s.whatsapp.net' }, messageBody: 5 },
      }),
    ).toMatch(/^data\.messageBody: /);
  });

  it('names an invalid status value and a status update without an id', () => {
    expect(errorOf({ event: 'messages.update', data: { key: { id: 'X' }, update: { status: true } } })).toBe(
      'data.update.status: expected a status number (0-5) or a status name',
    );
    expect(errorOf({ event: 'messages.update', data: [{ key: {}, update: { status: 3 } }] })).toMatch(
      /^data\[0\]\.key\.id: /,
    );
    expect(errorOf({ event: 'message.sent', data: { key: { id: '' } } })).toBe(
      'data.key.id: must be a non-empty string',
    );
  });

  it('names a session.status without a status', () => {
    expect(errorOf({ event: 'session.status', data: {} })).toMatch(/^data\.status: /);
  });

  it('never throws, even on hostile input', () => {
    const hostile = new Proxy(
      {},
      {
        get() {
          throw new Error('boom');
        },
        has() {
          throw new Error('boom');
        },
      },
    );
    expect(parseWebhook(hostile).ok).toBe(false);
    const cyclic: Record<string, unknown> = { event: 'messages.upsert' };
    cyclic.data = cyclic;
    expect(() => parseWebhook(cyclic)).not.toThrow();
  });
});

describe('helpers', () => {
  it('extractText prefers messageBody, then conversation, extended text and captions', () => {
    expect(extractText({ messageBody: 'body', message: { conversation: 'conv' } })).toBe('body');
    expect(extractText({ messageBody: '  ', message: { conversation: 'conv' } })).toBe('conv');
    expect(extractText({ message: { extendedTextMessage: { text: 'ext' } } })).toBe('ext');
    expect(extractText({ message: { videoMessage: { caption: 'vid' } } })).toBe('vid');
    expect(
      extractText({
        message: { documentWithCaptionMessage: { message: { documentMessage: { caption: 'doc' } } } },
      }),
    ).toBe('doc');
    expect(extractText({ message: { audioMessage: {} } })).toBeNull();
    expect(extractText({})).toBeNull();
    expect(extractText({ message: 'not an object' })).toBeNull();
    expect(extractText({ messageBody: 'héllo 👋🏽 世界' })).toBe('héllo 👋🏽 世界');
  });

  it('mapStatus knows numbers, numeric strings and names, and nothing else', () => {
    expect(mapStatus(0)).toBe('failed');
    expect(mapStatus(5)).toBe('played');
    expect(mapStatus(6)).toBeNull();
    expect(mapStatus(2.5)).toBeNull();
    expect(mapStatus(' Delivery-Ack ')).toBe('delivered');
    expect(mapStatus('3')).toBe('delivered');
    expect(mapStatus(null)).toBeNull();
    expect(mapStatus({})).toBeNull();
  });

  it('toTimestamp returns null for unusable values', () => {
    expect(toTimestamp(undefined)).toBeNull();
    expect(toTimestamp('12abc')).toBeNull();
    expect(toTimestamp(Number.NaN)).toBeNull();
    expect(toTimestamp(1e20)).toBeNull();
  });
});
