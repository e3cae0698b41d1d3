import { and, desc, eq, isNull, lte, sql } from 'drizzle-orm';
import {
  activities,
  contactIdentities,
  contacts,
  conversations,
  deals,
  type IdentityKind,
  tasks,
  throttles,
} from '../../../drizzle';
import type { DbOrTx } from '../types';

/** Finds the contact of a WhatsApp identity (phone JID or LID). */
export async function findContactByIdentity(db: DbOrTx, kind: IdentityKind, value: string) {
  const [row] = await db
    .select({ contactId: contactIdentities.contactId })
    .from(contactIdentities)
    .where(and(eq(contactIdentities.kind, kind), eq(contactIdentities.value, value)))
    .limit(1);
  return row?.contactId ?? null;
}

/** Creates or revives the contact of a phone number; returns its id. */
export async function upsertContactByPhone(db: DbOrTx, phone: string, pushName: string | null) {
  const [row] = await db
    .insert(contacts)
    .values({ phone, pushName, source: 'whatsapp' })
    .onConflictDoUpdate({
      target: contacts.phone,
      set: { deletedAt: null, pushName: sql`coalesce(excluded.push_name, ${contacts.pushName})` },
    })
    .returning({ id: contacts.id });
  return row!.id;
}

export async function addIdentity(db: DbOrTx, contactId: string, kind: IdentityKind, value: string) {
  await db.insert(contactIdentities).values({ contactId, kind, value }).onConflictDoNothing();
}

/** The contact's conversation, created on first contact; returns its id. */
export async function upsertConversation(db: DbOrTx, contactId: string) {
  const [row] = await db
    .insert(conversations)
    .values({ contactId })
    .onConflictDoUpdate({ target: conversations.contactId, set: { contactId } })
    .returning({ id: conversations.id });
  return row!.id;
}

export async function touchConversation(
  db: DbOrTx,
  id: string,
  p: { at: Date; preview: string; inbound: boolean; agent?: boolean },
) {
  await db
    .update(conversations)
    .set({
      lastMessageAt: p.at,
      lastMessagePreview: p.preview.slice(0, 200),
      ...(p.inbound ? { lastInboundAt: p.at, unreadCount: sql`${conversations.unreadCount} + 1` } : {}),
      ...(p.agent ? { lastAgentAt: p.at } : {}),
    })
    .where(eq(conversations.id, id));
}

export async function touchContactInbound(db: DbOrTx, contactId: string, at: Date, pushName: string | null) {
  await db
    .update(contacts)
    .set({ lastInboundAt: at, ...(pushName ? { pushName } : {}) })
    .where(eq(contacts.id, contactId));
}

/**
 * Newest inbound message of the conversation in the outer query: `{ id, createdAt }` or null. The outer
 * column is written out in full: Drizzle leaves columns unqualified in single-table selects.
 */
const latestInboundSql = sql<{ id: string; createdAt: string } | string | null>`(
  select json_build_object('id', m.id, 'createdAt', m.created_at) from messages m
  where m.conversation_id = "conversations"."id" and m.direction = 'inbound'
  order by m.created_at desc, m.id desc limit 1)`;

/** Drizzle's driver setup leaves json values as text; read either form. */
function parseLatest(raw: { id: string; createdAt: string } | string | null) {
  const v = typeof raw === 'string' ? (JSON.parse(raw) as { id: string; createdAt: string }) : raw;
  return v ? { id: v.id, createdAt: new Date(v.createdAt) } : null;
}

/**
 * The conversation a reply is being written for, locked for the rest of the transaction, with its
 * newest inbound message (to tell whether the reply was overtaken).
 */
export async function lockConversation(db: DbOrTx, id: string) {
  const [row] = await db
    .select({
      id: conversations.id,
      botHandledThrough: conversations.botHandledThrough,
      latest: latestInboundSql,
    })
    .from(conversations)
    .where(eq(conversations.id, id))
    .for('update');
  return row ? { ...row, latest: parseLatest(row.latest) } : null;
}

export async function readConversation(db: DbOrTx, id: string) {
  const [row] = await db
    .select({
      id: conversations.id,
      contactId: conversations.contactId,
      owner: conversations.owner,
      botResumesAt: conversations.botResumesAt,
      botHandledThrough: conversations.botHandledThrough,
      phone: contacts.phone,
      name: contacts.name,
      pushName: contacts.pushName,
      company: contacts.company,
      position: contacts.position,
      email: contacts.email,
      leadStatus: contacts.leadStatus,
      optedOutAt: contacts.optedOutAt,
      latest: latestInboundSql,
    })
    .from(conversations)
    .innerJoin(contacts, eq(contacts.id, conversations.contactId))
    .where(eq(conversations.id, id))
    .limit(1);
  return row ? { ...row, latest: parseLatest(row.latest) } : null;
}

export async function setHandledThrough(db: DbOrTx, id: string, at: Date) {
  await db
    .update(conversations)
    .set({
      botHandledThrough: sql`greatest(${conversations.botHandledThrough}, ${at.toISOString()}::timestamptz)`,
    })
    .where(eq(conversations.id, id));
}

export async function setOptOut(db: DbOrTx, contactId: string, optedOutAt: Date | null) {
  const [row] = await db
    .update(contacts)
    .set({ optedOutAt })
    .where(
      and(
        eq(contacts.id, contactId),
        optedOutAt ? isNull(contacts.optedOutAt) : sql`${contacts.optedOutAt} is not null`,
      ),
    )
    .returning({ id: contacts.id });
  return row !== undefined;
}

export async function insertTask(db: DbOrTx, row: typeof tasks.$inferInsert) {
  const [created] = await db.insert(tasks).values(row).returning({ id: tasks.id });
  return created!.id;
}

export async function insertActivity(db: DbOrTx, row: typeof activities.$inferInsert) {
  await db.insert(activities).values(row);
}

/** What the bot knows about a customer beyond the chat: open deals, pending tasks, recent activities. */
export async function crmContext(db: DbOrTx, contactId: string) {
  const [openDeals, pendingTasks, recent] = await Promise.all([
    db
      .select({ title: deals.title, stage: deals.stage, value: deals.value, currency: deals.currency })
      .from(deals)
      .where(
        and(
          eq(deals.contactId, contactId),
          isNull(deals.deletedAt),
          sql`${deals.stage} not in ('won','lost')`,
        ),
      )
      .limit(5),
    db
      .select({ title: tasks.title, dueAt: tasks.dueAt })
      .from(tasks)
      .where(and(eq(tasks.contactId, contactId), eq(tasks.status, 'open')))
      .limit(5),
    db
      .select({ type: activities.type, summary: activities.summary, occurredAt: activities.occurredAt })
      .from(activities)
      .where(eq(activities.contactId, contactId))
      .orderBy(desc(activities.occurredAt))
      .limit(5),
  ]);
  return { openDeals, pendingTasks, recent };
}

/** Human-owned conversations whose quiet time is over: the bot takes them back. */
export function conversationsDueForResume(db: DbOrTx, now: Date, limit: number) {
  return db
    .select({ id: conversations.id })
    .from(conversations)
    .where(and(eq(conversations.owner, 'human'), lte(conversations.botResumesAt, now)))
    .limit(limit);
}

/**
 * Reserves the next send slot of a throttle bucket: slots are `intervalMs` apart across every process.
 * Returns when the slot starts.
 */
export async function reserveSlot(db: DbOrTx, name: string, intervalMs: number): Promise<Date> {
  const step = sql.raw(`interval '${Math.max(0, Math.round(intervalMs))} milliseconds'`);
  const [row] = await db
    .insert(throttles)
    .values({ name, nextSlotAt: sql`clock_timestamp() + ${step}` })
    .onConflictDoUpdate({
      target: throttles.name,
      set: { nextSlotAt: sql`greatest(${throttles.nextSlotAt}, clock_timestamp()) + ${step}` },
    })
    .returning({ slot: sql<Date>`${throttles.nextSlotAt} - ${step}`.mapWith(throttles.nextSlotAt) });
  return row!.slot;
}

/** After a rate-limit answer, nobody uses the bucket before `until`. */
export async function pushThrottle(db: DbOrTx, name: string, until: Date) {
  await db
    .insert(throttles)
    .values({ name, nextSlotAt: until })
    .onConflictDoUpdate({
      target: throttles.name,
      set: { nextSlotAt: sql`greatest(${throttles.nextSlotAt}, ${until.toISOString()}::timestamptz)` },
    });
}

export async function setContactNameIfEmpty(db: DbOrTx, contactId: string, name: string) {
  await db
    .update(contacts)
    .set({ name })
    .where(and(eq(contacts.id, contactId), isNull(contacts.name)));
}

/**
 * The webhook's contact upsert in one statement: creates or revives the contact and records the
 * inbound time and WhatsApp name. `created` tells a new contact from a returning one.
 */
export async function upsertContactForInbound(db: DbOrTx, phone: string, pushName: string | null, at: Date) {
  const [row] = await db
    .insert(contacts)
    .values({ phone, pushName, source: 'whatsapp', lastInboundAt: at })
    .onConflictDoUpdate({
      target: contacts.phone,
      set: {
        deletedAt: null,
        lastInboundAt: at,
        pushName: sql`coalesce(excluded.push_name, ${contacts.pushName})`,
      },
    })
    .returning({ id: contacts.id, created: sql<boolean>`(xmax = 0)` });
  return row!;
}

/** The webhook's conversation upsert in one statement, counting the new message as unread. */
export async function upsertConversationForInbound(db: DbOrTx, contactId: string, at: Date, preview: string) {
  const [row] = await db
    .insert(conversations)
    .values({
      contactId,
      lastMessageAt: at,
      lastInboundAt: at,
      lastMessagePreview: preview.slice(0, 200),
      unreadCount: 1,
    })
    .onConflictDoUpdate({
      target: conversations.contactId,
      set: {
        lastMessageAt: at,
        lastInboundAt: at,
        lastMessagePreview: preview.slice(0, 200),
        unreadCount: sql`${conversations.unreadCount} + 1`,
      },
    })
    .returning({ id: conversations.id });
  return row!.id;
}
