import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { contacts } from '../../drizzle';
import { conversationByPhone, type PipelineHarness, startPipeline, textWebhook } from '../helpers/pipeline';
import { seedConversation } from '../helpers/seed';
import { until } from './support';

let h: PipelineHarness;
beforeAll(async () => {
  // Assessments off: the score follows messages, deals, tasks and the profile alone.
  h = await startPipeline({ LEAD_QUALIFY_QUIET_MINUTES: '0', LEAD_RESCORE_DELAY_SECONDS: '0' });
});
afterAll(() => h?.closeAll());

const db = () => h.runtime.database.db;
const stored = async (contactId: string) => (await h.caller().leads.get({ contactId })).leadScore;
const rule = async (contactId: string, name: string) =>
  (await h.caller().leads.get({ contactId })).scoreBreakdown.find((b) => b.rule === name);

describe('the stored lead score follows its inputs without leads.rescore', () => {
  it('a customer message raises it', async () => {
    const phone = '14155550931';
    await h.post(textWebhook({ phone, text: 'hello' }));
    const conv = await until(async () => (await conversationByPhone(h, phone)) ?? false);
    const [contact] = await db()
      .select()
      .from(contacts)
      .where(eq(contacts.phone, `+${phone}`));
    const contactId = contact!.id;
    await until(async () => (await rule(contactId, 'engagement.replies'))?.points === 2);
    await h.post(textWebhook({ phone, text: 'and another thing' }));
    await until(async () => (await rule(contactId, 'engagement.replies'))?.points === 4);
    expect(conv.id).toBeTruthy();
    // Stored and computed agree.
    expect(await stored(contactId)).toBe((await h.caller().leads.score({ contactId })).score);
  });

  it('a deal, a done task and a profile change raise it; lists sorted by score follow', async () => {
    const { contact } = await seedConversation(db(), { name: null, tags: ['live-score'] });
    const other = await seedConversation(db(), { name: null, tags: ['live-score'], leadScore: 12 });
    const contactId = contact.id;
    expect(await stored(contactId)).toBe(0);
    const firstByScore = async () =>
      (await h.caller().leads.list({ tag: 'live-score', sort: 'score', limit: 5 })).items[0]?.id;
    expect(await firstByScore()).toBe(other.contact.id);

    const deal = await h
      .caller()
      .crm.deals.create({ contactId, title: 'Chairs', value: '5000', currency: 'EUR' });
    await until(async () => (await stored(contactId)) === 15);
    expect(await firstByScore()).toBe(contactId);

    const task = await h.caller().crm.tasks.create({ title: 'Call back', type: 'call', contactId });
    await h.caller().crm.tasks.complete({ id: task.id });
    await until(async () => (await stored(contactId)) === 18);
    expect((await rule(contactId, 'activity.tasks'))?.points).toBe(3);

    await h.caller().crm.tasks.reopen({ id: task.id });
    await until(async () => (await stored(contactId)) === 15);

    await h.caller().crm.contacts.update({ id: contactId, email: 'buyer@example.com' });
    await until(async () => (await stored(contactId)) === 25);

    await h.caller().crm.deals.moveStage({ id: deal.id, stage: 'lost' });
    await until(async () => (await stored(contactId)) === 10);
    expect(await firstByScore()).toBe(other.contact.id);
  });
});
