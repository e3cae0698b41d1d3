import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { contacts, deals } from '../../drizzle';
import { createTestRuntime, type TestRuntime } from '../helpers/runtime';
import { codeOf, MISSING_ID } from '../helpers/seed';

// Fields the server manages (ids, scores, opt-out, deletion, timestamps, a deal's stage outside
// moveStage) cannot be set through the API: create inputs drop unknown fields, update inputs refuse them.
let t: TestRuntime;
beforeAll(async () => {
  t = await createTestRuntime();
});
afterAll(() => t?.close());

const longAgo = new Date('2001-01-01T00:00:00Z');

describe('no mass assignment', () => {
  it('contacts.create keeps its own id, score, opt-out, deletion and timestamps', async () => {
    const input = {
      phone: '+14155554401',
      name: 'Mass',
      id: MISSING_ID,
      leadScore: 999,
      scoreBreakdown: [{ rule: 'forged', points: 999 }],
      optedOutAt: longAgo,
      deletedAt: longAgo,
      createdAt: longAgo,
    };
    const created = await t.caller('agent').crm.contacts.create(input as never);
    expect(created.id).not.toBe(MISSING_ID);
    const [row] = await t.runtime.database.db.select().from(contacts).where(eq(contacts.id, created.id));
    expect(row).toMatchObject({ name: 'Mass', leadScore: 0, optedOutAt: null, deletedAt: null });
    expect(row!.scoreBreakdown).toEqual([]);
    expect(row!.createdAt.getTime()).toBeGreaterThan(longAgo.getTime());
  });

  it('contacts.update refuses server-managed fields and changes nothing', async () => {
    const created = await t.caller('agent').crm.contacts.create({ phone: '+14155554402', name: 'Before' });
    const [before] = await t.runtime.database.db.select().from(contacts).where(eq(contacts.id, created.id));
    for (const extra of [
      { leadScore: 999 },
      { optedOutAt: null },
      { deletedAt: longAgo },
      { createdAt: longAgo },
    ]) {
      const code = await codeOf(
        t.caller('agent').crm.contacts.update({ id: created.id, name: 'After', ...extra } as never),
      );
      expect(code, JSON.stringify(extra)).toBe('BAD_REQUEST');
    }
    const [after] = await t.runtime.database.db.select().from(contacts).where(eq(contacts.id, created.id));
    expect(after).toEqual(before);
  });

  it('deals: create keeps its own id and timestamps; update cannot move the stage or the contact', async () => {
    const contact = await t.caller('agent').crm.contacts.create({ phone: '+14155554403' });
    const other = await t.caller('agent').crm.contacts.create({ phone: '+14155554404' });
    const deal = await t.caller('agent').crm.deals.create({
      contactId: contact.id,
      title: 'Order',
      id: MISSING_ID,
      createdAt: longAgo,
      closedAt: longAgo,
    } as never);
    expect(deal.id).not.toBe(MISSING_ID);
    const [before] = await t.runtime.database.db.select().from(deals).where(eq(deals.id, deal.id));
    expect(before!.createdAt.getTime()).toBeGreaterThan(longAgo.getTime());
    for (const extra of [{ stage: 'won' }, { contactId: other.id }, { closedAt: longAgo }]) {
      const code = await codeOf(
        t.caller('agent').crm.deals.update({ id: deal.id, title: 'Changed', ...extra } as never),
      );
      expect(code, JSON.stringify(extra)).toBe('BAD_REQUEST');
    }
    const [after] = await t.runtime.database.db.select().from(deals).where(eq(deals.id, deal.id));
    expect(after).toEqual(before);
  });

  it('campaigns.create starts as a draft whatever status or counts are sent', async () => {
    const contact = await t.caller('agent').crm.contacts.create({ phone: '+14155554405' });
    const campaign = await t.caller('agent').campaigns.create({
      name: 'Spring',
      template: 'Hello {{name|there}}',
      audience: { contactIds: [contact.id] },
      status: 'running',
      startedAt: longAgo,
      id: MISSING_ID,
    } as never);
    expect(campaign).toMatchObject({ status: 'draft' });
    expect(campaign.id).not.toBe(MISSING_ID);
  });
});
