import { and, eq, type SQL, sql } from 'drizzle-orm';
import { activities, conversations, messages } from '../../../drizzle';
import type { DbOrTx } from '../types';
import { afterKeyset, type Keyset, keysetOrder, keyText } from './keyset';
import { builtOnce } from './prepared';

export const activityColumns = {
  id: activities.id,
  contactId: activities.contactId,
  dealId: activities.dealId,
  type: activities.type,
  summary: activities.summary,
  metadata: activities.metadata,
  actorType: activities.actorType,
  actorId: activities.actorId,
  actorName: activities.actorName,
  occurredAt: activities.occurredAt,
  createdAt: activities.createdAt,
};

export type ActivityInsert = typeof activities.$inferInsert;

export async function insertActivity(db: DbOrTx, row: ActivityInsert) {
  const [created] = await db.insert(activities).values(row).returning(activityColumns);
  return created!;
}

export function listActivities(
  db: DbOrTx,
  f: { contactId?: string; dealId?: string; type?: string; limit: number; after: Keyset | null },
) {
  const where: (SQL | undefined)[] = [
    f.contactId ? eq(activities.contactId, f.contactId) : undefined,
    f.dealId ? eq(activities.dealId, f.dealId) : undefined,
    f.type ? eq(activities.type, f.type) : undefined,
    afterKeyset(activities.occurredAt, activities.id, 'desc', f.after, 'timestamptz'),
  ];
  return db
    .select({ ...activityColumns, sortKey: keyText(activities.occurredAt) })
    .from(activities)
    .where(and(...where))
    .orderBy(keysetOrder(activities.occurredAt, activities.id, 'desc'))
    .limit(f.limit + 1);
}

const recentOfContact = builtOnce((db) =>
  db
    .select(activityColumns)
    .from(activities)
    .where(eq(activities.contactId, sql.placeholder('contactId')))
    .orderBy(keysetOrder(activities.occurredAt, activities.id, 'desc'))
    .limit(20),
);

/** A contact's 20 latest activities, newest first (the contact card). */
export function recentActivitiesOfContact(db: DbOrTx, contactId: string) {
  return recentOfContact(db).execute({ contactId });
}

export interface TimelineRow {
  kind: 'activity' | 'deal' | 'message';
  id: string;
  at: Date;
  type: string;
  text: string | null;
  dealId: string | null;
  actorType: string | null;
  metadata: Record<string, unknown> | null;
  sortKey: string;
  /** Microseconds since the epoch, to merge the two sources in exact order. */
  micros: string;
}

/** Activities recorded by deal changes (created, updated, moved, deleted) form the timeline's deal entries. */
const isDealChange = (a: { dealId: string | null; type: string }) =>
  a.dealId !== null && a.type.startsWith('deal_');

const micros = (col: typeof activities.occurredAt | typeof messages.createdAt) =>
  sql<string>`floor(extract(epoch from ${col}) * 1000000)::bigint::text`;

/**
 * A contact's timeline, newest first: activities (deal_* ones about a deal are deal changes) and the
 * messages of the contact's conversation, merged by time.
 */
export async function listTimeline(
  db: DbOrTx,
  p: { contactId: string; limit: number; after: Keyset | null },
) {
  const [acts, msgs] = [
    await db
      .select({
        dealId: activities.dealId,
        id: activities.id,
        at: activities.occurredAt,
        type: activities.type,
        text: activities.summary,
        actorType: activities.actorType,
        metadata: activities.metadata,
        sortKey: keyText(activities.occurredAt),
        micros: micros(activities.occurredAt),
      })
      .from(activities)
      .where(
        and(
          eq(activities.contactId, p.contactId),
          afterKeyset(activities.occurredAt, activities.id, 'desc', p.after, 'timestamptz'),
        ),
      )
      .orderBy(keysetOrder(activities.occurredAt, activities.id, 'desc'))
      .limit(p.limit + 1),
    await db
      .select({
        id: messages.id,
        at: messages.createdAt,
        type: messages.direction,
        text: messages.body,
        actorType: messages.author,
        sortKey: keyText(messages.createdAt),
        micros: micros(messages.createdAt),
      })
      .from(messages)
      .innerJoin(conversations, eq(conversations.id, messages.conversationId))
      .where(
        and(
          eq(conversations.contactId, p.contactId),
          afterKeyset(messages.createdAt, messages.id, 'desc', p.after, 'timestamptz'),
        ),
      )
      .orderBy(keysetOrder(messages.createdAt, messages.id, 'desc'))
      .limit(p.limit + 1),
  ];
  const merged: TimelineRow[] = [
    ...acts.map((a) => ({ ...a, kind: isDealChange(a) ? ('deal' as const) : ('activity' as const) })),
    ...msgs.map((m) => ({ ...m, kind: 'message' as const, dealId: null, metadata: null })),
  ];
  // Same order as the keyset condition: time descending, then id descending (as Postgres compares uuids).
  merged.sort((a, b) => {
    const d = BigInt(b.micros) - BigInt(a.micros);
    if (d !== 0n) return d > 0n ? 1 : -1;
    return a.id < b.id ? 1 : a.id > b.id ? -1 : 0;
  });
  return merged.slice(0, p.limit + 1);
}
