import { sql } from 'drizzle-orm';
import { events } from '../../drizzle';
import type { TAppEvent } from '../contracts';
import type { DbOrTx } from '../db/types';

export const EVENTS_CHANNEL = 'wcb_events';

/**
 * Appends events to the log inside the caller's transaction and notifies listeners: Postgres delivers
 * the notification only if the transaction commits, so nobody hears of a change that did not happen.
 */
export async function recordEvents(db: DbOrTx, list: TAppEvent[]): Promise<void> {
  if (!list.length) return;
  const insert = db
    .insert(events)
    .values(
      list.map((e) => ({
        type: e.type,
        conversationId: 'conversationId' in e ? e.conversationId : null,
        campaignId: 'campaignId' in e ? e.campaignId : null,
        payload: e as unknown as Record<string, unknown>,
      })),
    )
    .returning({ id: events.id });
  // One round trip: the rows and the notification (carrying the newest id) together.
  await db.execute(
    sql`with inserted as ${insert} select pg_notify(${EVENTS_CHANNEL}, max(id)::text) from inserted`,
  );
}
