import { describe, expect, it } from 'vitest';
import {
  content,
  messageSentWebhook,
  messagesUpsert,
  receiptWebhook,
  sessionStatusWebhook,
  statusWebhook,
  textWebhook,
  upsertEntry,
  webhookHeaders,
} from '../../scripts/lib/wasender-payloads';
import { parseWebhook } from '../../server/pipeline/payload';

/** Each shared builder gives a body the server's parser reads as the intended item. */
const items = (body: unknown) => {
  const parsed = parseWebhook(JSON.parse(JSON.stringify(body)));
  if (!parsed.ok) throw new Error(parsed.error);
  return parsed.items;
};

describe('WaSender payload builders', () => {
  it('a text message, from a phone, under a LID, and a fromMe echo', () => {
    expect(items(textWebhook({ phone: '14155550100', text: 'hi', id: 'A1', pushName: 'Ana' }))).toEqual([
      expect.objectContaining({
        kind: 'message',
        providerId: 'A1',
        chatJid: '14155550100@s.whatsapp.net',
        phone: '14155550100',
        lid: null,
        fromMe: false,
        pushName: 'Ana',
        type: 'text',
        text: 'hi',
      }),
    ]);
    expect(items(textWebhook({ phone: '14155550100', text: 'x', lid: '998877@lid' }))[0]).toMatchObject({
      chatJid: '998877@lid',
      phone: '14155550100',
      lid: '998877@lid',
    });
    expect(items(textWebhook({ phone: '14155550100', text: 'x', fromMe: true }))[0]).toMatchObject({
      fromMe: true,
      phone: '14155550100',
    });
  });

  it('extended text, a photo with and without caption, and a batch', () => {
    const batch = messagesUpsert([
      upsertEntry({ phone: '14155550101', message: content.extendedText('see https://x.test') }),
      upsertEntry({ phone: '14155550101', message: content.image({ caption: 'the chair' }) }),
      upsertEntry({ phone: '14155550101', message: content.image(), pushName: null }),
    ]);
    expect(items(batch)).toEqual([
      expect.objectContaining({ type: 'text', text: 'see https://x.test' }),
      expect.objectContaining({ type: 'image', text: 'the chair', pushName: 'Customer' }),
      expect.objectContaining({ type: 'image', text: null, pushName: null }),
    ]);
  });

  it('status updates, receipts, message.sent and session.status', () => {
    expect(items(statusWebhook('S1', 4))).toEqual([
      expect.objectContaining({ providerId: 'S1', status: 'read' }),
    ]);
    expect(items(statusWebhook('S1', 'DELIVERY_ACK'))[0]).toMatchObject({ status: 'delivered' });
    expect(items(receiptWebhook('S1', 'played'))[0]).toMatchObject({ status: 'played' });
    expect(items(receiptWebhook('S1', 'delivered'))[0]).toMatchObject({ status: 'delivered' });
    expect(items(messageSentWebhook('S1', 42))[0]).toMatchObject({ status: 'sent', msgId: '42' });
    expect(items(sessionStatusWebhook('connected'))).toEqual([{ kind: 'session', status: 'connected' }]);
  });

  it('signs with the secret header, or not at all', () => {
    expect(webhookHeaders('s3cret')).toEqual({
      'content-type': 'application/json',
      'x-webhook-signature': 's3cret',
    });
    expect(webhookHeaders(null)).toEqual({ 'content-type': 'application/json' });
  });
});
