import {
  and,
  asc,
  count,
  desc,
  eq,
  getTableColumns,
  gt,
  gte,
  inArray,
  isNotNull,
  isNull,
  lt,
  lte,
  or,
  sql,
} from 'drizzle-orm';
import { events, webhookCursor, webhookDeliveries, webhookSubscriptions } from '../../../drizzle';
import type { DbOrTx } from '../types';

export type WebhookSubscriptionRow = typeof webhookSubscriptions.$inferSelect;
export type WebhookDeliveryRow = typeof webhookDeliveries.$inferSelect;
export type NewWebhookDelivery = typeof webhookDeliveries.$inferInsert;

/** Subscription columns safe to return (everything but the secret). */
export const publicSubscriptionColumns = {
  id: webhookSubscriptions.id,
  url: webhookSubscriptions.url,
  description: webhookSubscriptions.description,
  events: webhookSubscriptions.events,
  active: webhookSubscriptions.active,
  failingSince: webhookSubscriptions.failingSince,
  disabledAt: webhookSubscriptions.disabledAt,
  disabledReason: webhookSubscriptions.disabledReason,
  createdAt: webhookSubscriptions.createdAt,
  updatedAt: webhookSubscriptions.updatedAt,
};

export async function insertSubscription(db: DbOrTx, values: typeof webhookSubscriptions.$inferInsert) {
  const [row] = await db.insert(webhookSubscriptions).values(values).returning();
  return row!;
}

export function listSubscriptions(db: DbOrTx) {
  return db
    .select(publicSubscriptionColumns)
    .from(webhookSubscriptions)
    .orderBy(asc(webhookSubscriptions.createdAt), asc(webhookSubscriptions.id));
}

export async function getSubscription(db: DbOrTx, id: string) {
  const [row] = await db.select().from(webhookSubscriptions).where(eq(webhookSubscriptions.id, id));
  return row ?? null;
}

export async function updateSubscription(
  db: DbOrTx,
  id: string,
  patch: Partial<typeof webhookSubscriptions.$inferInsert>,
) {
  const [row] = await db
    .update(webhookSubscriptions)
    .set(patch)
    .where(eq(webhookSubscriptions.id, id))
    .returning(publicSubscriptionColumns);
  return row ?? null;
}

export async function deleteSubscription(db: DbOrTx, id: string): Promise<boolean> {
  const rows = await db
    .delete(webhookSubscriptions)
    .where(eq(webhookSubscriptions.id, id))
    .returning({ id: webhookSubscriptions.id });
  return rows.length > 0;
}

/** Whether any subscription is active (the fan-out has nothing to do without one). */
export async function hasActiveSubscription(db: DbOrTx): Promise<boolean> {
  const rows = await db
    .select({ id: webhookSubscriptions.id })
    .from(webhookSubscriptions)
    .where(eq(webhookSubscriptions.active, true))
    .limit(1);
  return rows.length > 0;
}

export function activeSubscriptions(db: DbOrTx) {
  return db
    .select({
      id: webhookSubscriptions.id,
      events: webhookSubscriptions.events,
      createdAt: webhookSubscriptions.createdAt,
    })
    .from(webhookSubscriptions)
    .where(eq(webhookSubscriptions.active, true));
}

/** Disabled by the server, and active but failing: for the status page. */
export async function subscriptionHealth(db: DbOrTx): Promise<{ disabled: number; failing: number }> {
  const [row] = await db
    .select({
      disabled: sql<number>`count(*) filter (where ${webhookSubscriptions.disabledAt} is not null and not ${webhookSubscriptions.active})::int`,
      failing: sql<number>`count(*) filter (where ${webhookSubscriptions.active} and ${webhookSubscriptions.failingSince} is not null)::int`,
    })
    .from(webhookSubscriptions);
  return { disabled: Number(row?.disabled ?? 0), failing: Number(row?.failing ?? 0) };
}

// ---------------------------------------------------------------------------------------------------
// The fan-out cursor

/** The cursor, locked for the rest of the transaction (one fan-out at a time across processes). */
export async function lockCursor(tx: DbOrTx, name: string): Promise<number | null> {
  const [row] = await tx
    .select({ lastEventId: webhookCursor.lastEventId })
    .from(webhookCursor)
    .where(eq(webhookCursor.name, name))
    .for('update');
  return row ? Number(row.lastEventId) : null;
}

export async function createCursor(tx: DbOrTx, name: string, lastEventId: number) {
  await tx.insert(webhookCursor).values({ name, lastEventId }).onConflictDoNothing();
}

export async function moveCursor(tx: DbOrTx, name: string, lastEventId: number) {
  await tx
    .update(webhookCursor)
    .set({ lastEventId, updatedAt: new Date() })
    .where(eq(webhookCursor.name, name));
}

/** Moves the cursor to the latest event (never back): nothing recorded so far is fanned out. */
export async function catchUpCursor(tx: DbOrTx, name: string) {
  await tx
    .update(webhookCursor)
    .set({
      lastEventId: sql`greatest(${webhookCursor.lastEventId}, (select coalesce(max(${events.id}), 0) from ${events}))`,
      updatedAt: new Date(),
    })
    .where(eq(webhookCursor.name, name));
}

/** Events after the cursor, oldest first, with their age by the database's clock. */
export function eventsForFanOut(db: DbOrTx, afterId: number, limit: number) {
  return db
    .select({
      id: events.id,
      type: events.type,
      payload: events.payload,
      createdAt: events.createdAt,
      ageMs: sql<number>`(extract(epoch from (clock_timestamp() - ${events.createdAt})) * 1000)::float8`,
    })
    .from(events)
    .where(gt(events.id, afterId))
    .orderBy(asc(events.id))
    .limit(limit);
}

export async function maxEventId(db: DbOrTx): Promise<number> {
  const [row] = await db.select({ id: sql<number>`coalesce(max(${events.id}), 0)::int8` }).from(events);
  return Number(row?.id ?? 0);
}

/** Events of a time range [from, to) of the given types (all types when null), oldest first. */
export function eventsInRange(
  db: DbOrTx,
  p: { from: Date; to: Date; types: string[] | null; limit: number },
) {
  return db
    .select({ id: events.id, type: events.type, payload: events.payload, createdAt: events.createdAt })
    .from(events)
    .where(
      and(
        gte(events.createdAt, p.from),
        lt(events.createdAt, p.to),
        p.types ? inArray(events.type, p.types) : undefined,
      ),
    )
    .orderBy(asc(events.id))
    .limit(p.limit);
}

// ---------------------------------------------------------------------------------------------------
// Deliveries

/** Inserts first deliveries, skipping (subscription, event) pairs that have one; returns the new ids. */
export async function insertDeliveries(tx: DbOrTx, rows: NewWebhookDelivery[]): Promise<string[]> {
  if (!rows.length) return [];
  const inserted = await tx
    .insert(webhookDeliveries)
    .values(rows)
    .onConflictDoNothing({
      target: [webhookDeliveries.subscriptionId, webhookDeliveries.eventId],
      where: sql`${webhookDeliveries.replayOf} is null and ${webhookDeliveries.eventId} is not null`,
    })
    .returning({ id: webhookDeliveries.id });
  return inserted.map((r) => r.id);
}

/** Inserts replays (or test pings): never conflicting. */
export async function insertDeliveryRows(tx: DbOrTx, rows: NewWebhookDelivery[]) {
  if (!rows.length) return [];
  return tx.insert(webhookDeliveries).values(rows).returning();
}

export async function getDelivery(db: DbOrTx, id: string) {
  const [row] = await db.select().from(webhookDeliveries).where(eq(webhookDeliveries.id, id));
  return row ?? null;
}

/**
 * Takes the next attempt of a pending, due delivery that no live worker holds: counts the attempt
 * and holds it until `holdMs` from now. Null when there is nothing to do (done, held, not due).
 */
export async function claimDelivery(db: DbOrTx, id: string, holdMs: number) {
  const [row] = await db
    .update(webhookDeliveries)
    .set({
      attempts: sql`${webhookDeliveries.attempts} + 1`,
      claimedUntil: sql`clock_timestamp() + ${`${holdMs} milliseconds`}::interval`,
      lastAttemptAt: sql`clock_timestamp()`,
    })
    .where(
      and(
        eq(webhookDeliveries.id, id),
        eq(webhookDeliveries.state, 'pending'),
        or(
          isNull(webhookDeliveries.claimedUntil),
          lt(webhookDeliveries.claimedUntil, sql`clock_timestamp()`),
        ),
        or(
          isNull(webhookDeliveries.nextAttemptAt),
          lte(webhookDeliveries.nextAttemptAt, sql`clock_timestamp() + interval '1 second'`),
        ),
      ),
    )
    .returning();
  return row ?? null;
}

/** Records an attempt's outcome, only if the attempt is still the one this worker claimed. */
export async function finishAttempt(
  tx: DbOrTx,
  id: string,
  attempt: number,
  values: Partial<typeof webhookDeliveries.$inferInsert>,
): Promise<boolean> {
  const rows = await tx
    .update(webhookDeliveries)
    .set({ ...values, claimedUntil: null })
    .where(
      and(
        eq(webhookDeliveries.id, id),
        eq(webhookDeliveries.attempts, attempt),
        eq(webhookDeliveries.state, 'pending'),
      ),
    )
    .returning({ id: webhookDeliveries.id });
  return rows.length > 0;
}

export async function cancelDelivery(db: DbOrTx, id: string, reason: string) {
  await db
    .update(webhookDeliveries)
    .set({ state: 'cancelled', lastError: reason, completedAt: new Date(), nextAttemptAt: null })
    .where(and(eq(webhookDeliveries.id, id), eq(webhookDeliveries.state, 'pending')));
}

/** Pending deliveries long past due and held by nobody (their job was lost): to enqueue again. */
export async function overdueDeliveries(db: DbOrTx, olderThanMs: number, limit: number) {
  const rows = await db
    .select({ id: webhookDeliveries.id })
    .from(webhookDeliveries)
    .innerJoin(webhookSubscriptions, eq(webhookSubscriptions.id, webhookDeliveries.subscriptionId))
    .where(
      and(
        eq(webhookDeliveries.state, 'pending'),
        eq(webhookSubscriptions.active, true),
        isNotNull(webhookDeliveries.nextAttemptAt),
        lt(
          webhookDeliveries.nextAttemptAt,
          sql`clock_timestamp() - ${`${olderThanMs} milliseconds`}::interval`,
        ),
        or(
          isNull(webhookDeliveries.claimedUntil),
          lt(webhookDeliveries.claimedUntil, sql`clock_timestamp()`),
        ),
      ),
    )
    .orderBy(asc(webhookDeliveries.nextAttemptAt))
    .limit(limit);
  return rows.map((r) => r.id);
}

/** A page of a subscription's deliveries, newest first, keyed by (created_at as text, id). */
export function listDeliveries(
  db: DbOrTx,
  p: { subscriptionId: string; state?: string; after: { key: string; id: string } | null; limit: number },
) {
  const d = webhookDeliveries;
  return db
    .select({ ...getTableColumns(d), sortKey: sql<string>`${d.createdAt}::text` })
    .from(d)
    .where(
      and(
        eq(d.subscriptionId, p.subscriptionId),
        p.state ? eq(d.state, p.state) : undefined,
        p.after
          ? sql`(${d.createdAt} < ${p.after.key}::timestamptz or (${d.createdAt} = ${p.after.key}::timestamptz and ${d.id} > ${p.after.id}))`
          : undefined,
      ),
    )
    .orderBy(desc(d.createdAt), asc(d.id))
    .limit(p.limit + 1);
}

/** The newest delivery per event of a subscription, among the given events. */
export async function latestDeliveriesOf(db: DbOrTx, subscriptionId: string, eventIds: number[]) {
  if (!eventIds.length) return [];
  return db
    .selectDistinctOn([webhookDeliveries.eventId], {
      id: webhookDeliveries.id,
      eventId: webhookDeliveries.eventId,
      webhookId: webhookDeliveries.webhookId,
      state: webhookDeliveries.state,
      replayOf: webhookDeliveries.replayOf,
    })
    .from(webhookDeliveries)
    .where(
      and(eq(webhookDeliveries.subscriptionId, subscriptionId), inArray(webhookDeliveries.eventId, eventIds)),
    )
    .orderBy(webhookDeliveries.eventId, desc(webhookDeliveries.createdAt));
}

export async function countDeliveries(db: DbOrTx, subscriptionId: string) {
  const [row] = await db
    .select({ n: count() })
    .from(webhookDeliveries)
    .where(eq(webhookDeliveries.subscriptionId, subscriptionId));
  return Number(row?.n ?? 0);
}
