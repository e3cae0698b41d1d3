import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { contacts, conversations } from '../../drizzle';
import { type PipelineHarness, sendsTo, startPipeline, textWebhook } from '../helpers/pipeline';

let h: PipelineHarness;
beforeAll(async () => {
  h = await startPipeline({ REPLY_QUIET_MS: '0', HUMAN_QUIET_MINUTES: '30' });
});
afterAll(() => h?.closeAll());

describe('bot.settings', () => {
  it('shows the defaults from the environment; an admin changes them and the pipeline follows', async () => {
    const admin = h.caller('admin');
    expect(await admin.bot.settings()).toEqual({
      replyQuietMs: 0,
      humanQuietMinutes: 30,
      storeGroupMessages: false,
    });
    expect(await admin.bot.updateSettings({ humanQuietMinutes: 5 })).toEqual({
      replyQuietMs: 0,
      humanQuietMinutes: 5,
      storeGroupMessages: false,
    });

    // A takeover now schedules the bot's return 5 minutes later, not 30.
    const phone = '14155550801';
    await h.post(textWebhook({ phone, text: 'hi' }));
    await sendsTo(h, phone);
    const [conv] = await h.runtime.database.db
      .select({ id: conversations.id })
      .from(conversations)
      .innerJoin(contacts, eq(contacts.id, conversations.contactId))
      .where(eq(contacts.phone, `+${phone}`));
    const before = Date.now();
    await admin.bot.setOwner({ conversationId: conv!.id, owner: 'human' });
    const [row] = await h.runtime.database.db
      .select()
      .from(conversations)
      .where(eq(conversations.id, conv!.id));
    const minutes = (row!.botResumesAt!.getTime() - before) / 60_000;
    expect(minutes).toBeGreaterThan(4.9);
    expect(minutes).toBeLessThan(5.5);
  });

  it('is for admins only, and rejects bad values without changing anything', async () => {
    await expect(h.caller('agent').bot.updateSettings({ replyQuietMs: 10 })).rejects.toMatchObject({
      code: 'FORBIDDEN',
    });
    await expect(h.caller('agent').bot.settings()).rejects.toMatchObject({ code: 'FORBIDDEN' });
    const admin = h.caller('admin');
    const current = await admin.bot.settings();
    await expect(admin.bot.updateSettings({ replyQuietMs: -1 })).rejects.toMatchObject({
      code: 'BAD_REQUEST',
    });
    await expect(admin.bot.updateSettings({})).rejects.toMatchObject({ code: 'BAD_REQUEST' });
    await expect(
      admin.bot.updateSettings({ replyQuietMs: 5, unknown: 1 } as unknown as { replyQuietMs: number }),
    ).rejects.toMatchObject({ code: 'BAD_REQUEST' });
    expect(await admin.bot.settings()).toEqual(current);
  });
});
