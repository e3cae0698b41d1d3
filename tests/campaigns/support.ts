import { eq, sql } from 'drizzle-orm';
import { campaignRecipients, contacts } from '../../drizzle';
import type { Db } from '../../server/db/types';

/** Settings that make campaigns quick in tests: fast pace, short lease and sweep. */
export const FAST_CAMPAIGNS: Record<string, string> = {
  SEND_RATE_PER_MINUTE: '6000',
  CAMPAIGN_DEFAULT_RATE_PER_MINUTE: '6000',
  CAMPAIGN_LEASE_SECONDS: '3',
  CAMPAIGN_SWEEP_SECONDS: '1',
  CAMPAIGN_SLICE_SECONDS: '5',
};

/** `n` valid US numbers from a base, in E.164 (+1415556xxxx style, distinct per base). */
export function phones(n: number, base: number): string[] {
  return Array.from({ length: n }, (_, i) => `+1415${String(base + i).padStart(7, '0')}`);
}

/** Inserts contacts straight into the table; returns them in order. */
export async function seedContacts(
  db: Db,
  list: string[],
  extra: Partial<typeof contacts.$inferInsert> = {},
) {
  const rows = await db
    .insert(contacts)
    .values(list.map((phone, i) => ({ phone, name: `Customer ${i + 1}`, ...extra })))
    .returning({ id: contacts.id, phone: contacts.phone });
  const order = new Map(list.map((p, i) => [p, i]));
  return rows.sort((a, b) => order.get(a.phone)! - order.get(b.phone)!);
}

/** Recipient counts by status. */
export async function statusCounts(db: Db, campaignId: string) {
  const rows = await db
    .select({ status: campaignRecipients.status, n: sql<number>`count(*)::int` })
    .from(campaignRecipients)
    .where(eq(campaignRecipients.campaignId, campaignId))
    .groupBy(campaignRecipients.status);
  return Object.fromEntries(rows.map((r) => [r.status, r.n])) as Record<string, number>;
}

/** Polls until `check` returns a truthy value; throws with `describe()` after the timeout. */
export async function waitFor<T>(
  check: () => Promise<T> | T,
  opts: { timeoutMs?: number; everyMs?: number; describe?: () => unknown } = {},
): Promise<NonNullable<T>> {
  const deadline = Date.now() + (opts.timeoutMs ?? 20_000);
  for (;;) {
    const v = await check();
    if (v) return v as NonNullable<T>;
    if (Date.now() > deadline) {
      const detail = opts.describe ? JSON.stringify(await opts.describe()) : '';
      throw new Error(`condition not met in time ${detail}`);
    }
    await new Promise((r) => setTimeout(r, opts.everyMs ?? 50));
  }
}

/** How many messages each phone received at the fake gateway. */
export function sendsPerPhone(sent: Array<{ to: string }>): Map<string, number> {
  const m = new Map<string, number>();
  for (const s of sent) m.set(s.to, (m.get(s.to) ?? 0) + 1);
  return m;
}
