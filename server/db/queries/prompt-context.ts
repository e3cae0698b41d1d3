import { sql } from 'drizzle-orm';
import type { DbOrTx } from '../types';
import { crmContextColumns, parseCrmContext } from './contacts';
import { historyColumn, parseHistory } from './messages';
import { rawOnce } from './prepared';

/**
 * What a reply's prompt reads besides the burst, in one statement: the conversation's history before
 * the burst and the customer's CRM record (open deals, open tasks, recent activities).
 */
const promptContextStatement = rawOnce<
  Array<{ history: unknown; deals: unknown; tasks: unknown; recent: unknown }>
>(
  () =>
    sql`select ${historyColumn({
      conversationId: sql`${sql.placeholder('conversationId')}::uuid`,
      before: sql`${sql.placeholder('before')}::timestamptz`,
      limit: sql`${sql.placeholder('limit')}::int`,
    })}, ${crmContextColumns(sql`${sql.placeholder('contactId')}::uuid`)}`,
);

export async function promptContext(
  db: DbOrTx,
  p: { conversationId: string; contactId: string; before: Date; historyLimit: number },
) {
  const [row] = await promptContextStatement(db).execute({
    conversationId: p.conversationId,
    contactId: p.contactId,
    before: p.before.toISOString(),
    limit: p.historyLimit,
  });
  return { history: parseHistory(row?.history), crm: parseCrmContext(row) };
}
