import { and, eq, sql } from 'drizzle-orm';
import { leadQualifications } from '../../drizzle';
import type { TLeadAssessment } from '../../server/contracts';
import type { Db } from '../../server/db/types';

/** Polls `check` until it returns a value (not undefined/false) or the time is up. */
export async function until<T>(check: () => Promise<T | undefined | false>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value as T;
    if (Date.now() > deadline) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 50));
  }
}

export const assessment = (over: Partial<TLeadAssessment> = {}): TLeadAssessment => ({
  intent: 'buy 20 office chairs',
  need: 'furnish a new office before it opens',
  budgetSignal: 'medium',
  timeline: 'this_month',
  decisionRole: 'decision_maker',
  score: 82,
  reasons: ['asks for a quote', 'has a date'],
  summary: 'Wants 20 chairs for a new office opening this month; decides alone.',
  ...over,
});

export async function qualificationsOf(db: Db, conversationId: string) {
  return db
    .select()
    .from(leadQualifications)
    .where(eq(leadQualifications.conversationId, conversationId))
    .orderBy(leadQualifications.assessedAt);
}

/** Jobs of a queue about this conversation or contact that have not finished (waiting, retrying, active). */
export async function pendingJobs(
  db: Db,
  queue: string,
  key: { conversationId?: string; contactId?: string },
) {
  const [field, value] = key.conversationId
    ? ['conversationId', key.conversationId]
    : ['contactId', key.contactId ?? ''];
  const rows = await db.execute<{ state: string; output: unknown }>(sql`
    select state, output from pgboss.job
    where name = ${queue} and data ->> ${field} = ${value} and state < 'completed'`);
  return [...rows];
}

export { and, eq };
