import { and, asc, eq, gt, inArray, lte, or, type SQL, sql } from 'drizzle-orm';
import { events } from '../../../drizzle';
import type { TAppEvent } from '../../contracts';
import type { DbOrTx } from '../types';
import { rawOnce } from './prepared';

export const EVENTS_CHANNEL = 'wcb_events';

/**
 * The insert of any number of events, given as one JSON array (each element is an event's payload;
 * its type, conversation and campaign are read from it), with the notification carrying the newest id.
 */
const insertEvents = rawOnce(
  () => sql`with inserted as (
      insert into ${events} (type, conversation_id, campaign_id, payload)
      select e->>'type', (e->>'conversationId')::uuid, (e->>'campaignId')::uuid, e
      from jsonb_array_elements(${sql.placeholder('events')}::jsonb) with ordinality as x(e, n)
      order by n
      returning id)
    select pg_notify(${EVENTS_CHANNEL}, max(id)::text) from inserted`,
);

/**
 * Appends events to the log inside the caller's transaction and notifies listeners: Postgres delivers
 * the notification only if the transaction commits, so nobody hears of a change that did not happen.
 * One round trip: the rows and the notification (carrying the newest id) together.
 */
export async function recordEvents(db: DbOrTx, list: TAppEvent[]): Promise<void> {
  if (!list.length) return;
  await insertEvents(db).execute({ events: JSON.stringify(list) });
}

const columns = {
  id: events.id,
  type: events.type,
  conversationId: events.conversationId,
  payload: events.payload,
  createdAt: events.createdAt,
};

/** Events after an id (and up to another), oldest first, optionally of one conversation. */
export function eventsAfter(
  db: DbOrTx,
  p: { afterId: number; upToId?: number; conversationId?: string; limit: number },
) {
  const where: (SQL | undefined)[] = [
    gt(events.id, p.afterId),
    p.upToId !== undefined ? lte(events.id, p.upToId) : undefined,
    p.conversationId ? eq(events.conversationId, p.conversationId) : undefined,
  ];
  return db
    .select(columns)
    .from(events)
    .where(and(...where))
    .orderBy(asc(events.id))
    .limit(p.limit);
}

/** New events after the cursor, plus any of the listed ids that have appeared since. */
export function eventsAfterOrIn(db: DbOrTx, p: { afterId: number; ids: number[]; limit: number }) {
  return db
    .select(columns)
    .from(events)
    .where(p.ids.length ? or(gt(events.id, p.afterId), inArray(events.id, p.ids)) : gt(events.id, p.afterId))
    .orderBy(asc(events.id))
    .limit(p.limit);
}

export async function latestEventId(db: DbOrTx): Promise<number> {
  const [row] = await db.select({ id: sql<number>`coalesce(max(${events.id}), 0)::int8` }).from(events);
  return Number(row?.id ?? 0);
}

/** The ids present after a given one (to find ids not committed yet). */
export async function eventIdsAfter(db: DbOrTx, afterId: number): Promise<number[]> {
  const rows = await db
    .select({ id: events.id })
    .from(events)
    .where(gt(events.id, afterId))
    .orderBy(asc(events.id));
  return rows.map((r) => r.id);
}
