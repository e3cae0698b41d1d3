import { and, asc, eq, sql } from 'drizzle-orm';
import { contacts, conversations, type Owner, tasks } from '../../../drizzle';
import type { DbOrTx } from '../types';

/** Conversations of live contacts by owner, and the number of open handoffs. */
export async function ownerCounts(db: DbOrTx): Promise<{ bot: number; human: number; handoffs: number }> {
  const [row] = await db.execute<{ bot: number; human: number; handoffs: number }>(sql`
    select count(*) filter (where ${conversations.owner} = 'bot')::int as bot,
           count(*) filter (where ${conversations.owner} = 'human')::int as human,
           (select count(*) from ${tasks} where ${tasks.type} = 'handoff' and ${tasks.status} = 'open')::int as handoffs
    from ${conversations}
    where not exists (
      select 1 from ${contacts} d where d.id = ${conversations.contactId} and d.deleted_at is not null)`);
  return row ?? { bot: 0, human: 0, handoffs: 0 };
}

/** Open handoff tasks, oldest first, with their conversation's contact and owner. */
export function openHandoffs(db: DbOrTx, limit: number) {
  return db
    .select({
      taskId: tasks.id,
      title: tasks.title,
      conversationId: tasks.conversationId,
      contactId: sql<string | null>`coalesce(${tasks.contactId}, ${conversations.contactId})`,
      contactName: sql<string | null>`coalesce(${contacts.name}, ${contacts.pushName})`,
      phone: contacts.phone,
      owner: sql<Owner | null>`${conversations.owner}`,
      createdAt: tasks.createdAt,
      waitingSeconds: sql<number>`greatest(0, extract(epoch from now() - ${tasks.createdAt}))::float8`,
    })
    .from(tasks)
    .leftJoin(conversations, eq(conversations.id, tasks.conversationId))
    .leftJoin(contacts, eq(contacts.id, sql`coalesce(${tasks.contactId}, ${conversations.contactId})`))
    .where(and(eq(tasks.type, 'handoff'), eq(tasks.status, 'open')))
    .orderBy(asc(tasks.createdAt), asc(tasks.id))
    .limit(limit);
}
