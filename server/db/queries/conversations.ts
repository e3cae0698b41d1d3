import { and, eq, gt, inArray, type SQL, sql } from 'drizzle-orm';
import {
  botEvents,
  contactActivityAt,
  contacts,
  conversationActivityAt,
  conversations,
  messages,
  type Owner,
  tasks,
} from '../../../drizzle';
import type { DbOrTx } from '../types';
import { contactSearchCondition, contactSummaryColumns } from './contacts';
import { afterKeyset, type Keyset, keysetOrder, keyText } from './keyset';

export const conversationColumns = {
  id: conversations.id,
  contactId: conversations.contactId,
  owner: conversations.owner,
  ownerSince: conversations.ownerSince,
  ownerReason: conversations.ownerReason,
  botResumesAt: conversations.botResumesAt,
  unreadCount: conversations.unreadCount,
  lastMessageAt: conversations.lastMessageAt,
  lastMessagePreview: conversations.lastMessagePreview,
  createdAt: conversations.createdAt,
};

export async function findConversation(db: DbOrTx, id: string) {
  const [row] = await db
    .select({
      ...conversationColumns,
      lastInboundAt: conversations.lastInboundAt,
      lastAgentAt: conversations.lastAgentAt,
    })
    .from(conversations)
    .where(eq(conversations.id, id))
    .limit(1);
  return row ?? null;
}

/** A conversation with its contact's phone, looked up by conversation id or by E.164 phone. */
export async function findConversationWithPhone(db: DbOrTx, by: { id: string } | { phone: string }) {
  const [row] = await db
    .select({ ...conversationColumns, phone: contacts.phone })
    .from(conversations)
    .innerJoin(contacts, eq(contacts.id, conversations.contactId))
    .where('id' in by ? eq(conversations.id, by.id) : eq(contacts.phone, by.phone))
    .limit(1);
  return row ?? null;
}

export interface ConversationListFilter {
  owner?: Owner;
  unread?: boolean;
  hasOpenHandoff?: boolean;
  optedOut?: boolean;
  tag?: string;
  leadStatus?: (typeof contacts.$inferSelect)['leadStatus'];
  q?: string;
  limit: number;
  after: Keyset | null;
}

/**
 * The inbox query: conversations of contacts not deleted, newest activity first. With `placeholders`,
 * owner, lead status, cursor and limit are left as named placeholders (for a prepared statement); tag
 * and text filters are always inline.
 */
export function conversationListQuery(db: DbOrTx, f: ConversationListFilter, placeholders = false) {
  const value = <T>(name: string, v: T) => (placeholders ? sql.placeholder(name) : v);
  const activityAt = conversationActivityAt(conversations);
  // Probed per row in list order (a lateral lookup stops with the page), for the flag and the
  // filter alike: an EXISTS would let the planner hash every open handoff and sort afterwards.
  const handoff = db
    .select({ open: sql<boolean>`true`.as('open') })
    .from(tasks)
    .where(
      and(eq(tasks.conversationId, conversations.id), eq(tasks.type, 'handoff'), eq(tasks.status, 'open')),
    )
    .limit(1)
    .as('handoff');
  const where: (SQL | undefined)[] = [
    sql`${contacts.deletedAt} is null`,
    f.owner ? eq(conversations.owner, value('owner', f.owner)) : undefined,
    f.unread === undefined
      ? undefined
      : f.unread
        ? gt(conversations.unreadCount, 0)
        : eq(conversations.unreadCount, 0),
    f.hasOpenHandoff === undefined
      ? undefined
      : f.hasOpenHandoff
        ? sql`${handoff.open} is not null`
        : sql`${handoff.open} is null`,
    f.optedOut === undefined
      ? undefined
      : f.optedOut
        ? sql`${contacts.optedOutAt} is not null`
        : sql`${contacts.optedOutAt} is null`,
    f.tag ? sql`${contacts.tags} @> array[${f.tag}]::text[]` : undefined,
    f.leadStatus ? eq(contacts.leadStatus, value('leadStatus', f.leadStatus)) : undefined,
    f.q ? contactSearchCondition(f.q) : undefined,
    f.after && placeholders
      ? sql`(${activityAt}, ${conversations.id}) < (${sql.placeholder('afterKey')}::timestamptz, ${sql.placeholder('afterId')}::uuid)`
      : afterKeyset(activityAt, conversations.id, 'desc', f.after, 'timestamptz'),
  ];
  return db
    .select({
      id: conversations.id,
      owner: conversations.owner,
      ownerSince: conversations.ownerSince,
      botResumesAt: conversations.botResumesAt,
      unreadCount: conversations.unreadCount,
      lastMessageAt: conversations.lastMessageAt,
      lastMessagePreview: conversations.lastMessagePreview,
      lastInboundAt: conversations.lastInboundAt,
      hasOpenHandoff: sql<boolean>`(${handoff.open} is not null)`,
      sortKey: keyText(activityAt),
      contact: contactSummaryColumns,
    })
    .from(conversations)
    .innerJoin(contacts, eq(contacts.id, conversations.contactId))
    .leftJoinLateral(handoff, sql`true`)
    .where(and(...where))
    .orderBy(keysetOrder(activityAt, conversations.id, 'desc', 'last'))
    .limit(value('limit', f.limit + 1));
}

type ListRows = Awaited<ReturnType<typeof conversationListQuery>>;
const preparedLists = new WeakMap<
  DbOrTx,
  Map<string, { execute(v: Record<string, unknown>): Promise<ListRows> }>
>();

/**
 * The inbox page. The common filter shapes run as prepared statements, built once per shape: no
 * query building per call, and Postgres may reuse the plan (their plans hardly depend on the values).
 * Tag and text filters, whose best plan depends on how rare the value is, are planned per call.
 */
export function listConversations(db: DbOrTx, f: ConversationListFilter): Promise<ListRows> {
  if (f.q || f.tag) return conversationListQuery(db, f);
  const shape = [
    f.owner ? 'owner' : '',
    f.unread,
    f.hasOpenHandoff,
    f.optedOut,
    f.leadStatus ? 'status' : '',
    f.after ? 'after' : '',
  ].join('|');
  let byShape = preparedLists.get(db);
  if (!byShape) {
    byShape = new Map();
    preparedLists.set(db, byShape);
  }
  let prepared = byShape.get(shape);
  if (!prepared) {
    prepared = conversationListQuery(db, f, true).prepare('conversations_list');
    byShape.set(shape, prepared);
  }
  return prepared.execute({
    owner: f.owner,
    leadStatus: f.leadStatus,
    afterKey: f.after?.key,
    afterId: f.after?.id,
    limit: f.limit + 1,
  });
}

export async function findOpenHandoff(db: DbOrTx, conversationId: string) {
  const [row] = await db
    .select({ taskId: tasks.id, title: tasks.title, createdAt: tasks.createdAt, dueAt: tasks.dueAt })
    .from(tasks)
    .where(and(eq(tasks.conversationId, conversationId), eq(tasks.type, 'handoff'), eq(tasks.status, 'open')))
    .orderBy(sql`${tasks.createdAt} desc`)
    .limit(1);
  return row ?? null;
}

/** Owner changes of a conversation, newest first. */
export function listOwnerChanges(
  db: DbOrTx,
  p: { conversationId: string; limit: number; after: Keyset | null },
) {
  return db
    .select({
      id: botEvents.id,
      conversationId: botEvents.conversationId,
      fromOwner: botEvents.fromOwner,
      toOwner: botEvents.toOwner,
      actorType: botEvents.actorType,
      actorId: botEvents.actorId,
      reason: botEvents.reason,
      createdAt: botEvents.createdAt,
      sortKey: keyText(botEvents.createdAt),
    })
    .from(botEvents)
    .where(
      and(
        eq(botEvents.conversationId, p.conversationId),
        afterKeyset(botEvents.createdAt, botEvents.id, 'desc', p.after, 'timestamptz'),
      ),
    )
    .orderBy(keysetOrder(botEvents.createdAt, botEvents.id, 'desc'))
    .limit(p.limit + 1);
}

export const messageColumns = {
  id: messages.id,
  conversationId: messages.conversationId,
  direction: messages.direction,
  author: messages.author,
  type: messages.type,
  body: messages.body,
  status: messages.status,
  error: messages.error,
  replyGroup: messages.replyGroup,
  partIndex: messages.partIndex,
  ai: messages.ai,
  actorId: messages.actorId,
  campaignId: messages.campaignId,
  sentAt: messages.sentAt,
  deliveredAt: messages.deliveredAt,
  readAt: messages.readAt,
  createdAt: messages.createdAt,
};

/** A conversation's messages, newest first. */
export function listMessages(db: DbOrTx, p: { conversationId: string; limit: number; after: Keyset | null }) {
  return db
    .select({ ...messageColumns, sortKey: keyText(messages.createdAt) })
    .from(messages)
    .where(
      and(
        eq(messages.conversationId, p.conversationId),
        afterKeyset(messages.createdAt, messages.id, 'desc', p.after, 'timestamptz'),
      ),
    )
    .orderBy(keysetOrder(messages.createdAt, messages.id, 'desc'))
    .limit(p.limit + 1);
}

/** Contacts matching a search, most recently active first, with their conversation if any. */
export function searchContacts(db: DbOrTx, p: { q: string; limit: number }) {
  return db
    .select({
      ...contactSummaryColumns,
      // A subquery in the select list runs after ordering and limiting: once per returned contact.
      // Names are spelled out: Drizzle leaves columns of a one-table select unqualified.
      conversationId: sql<
        string | null
      >`(select cv.id from ${conversations} cv where cv.contact_id = ${sql.identifier('contacts')}.id)`,
    })
    .from(contacts)
    .where(and(sql`${contacts.deletedAt} is null`, contactSearchCondition(p.q)))
    .orderBy(keysetOrder(contactActivityAt(contacts), contacts.id, 'desc', 'last'))
    .limit(p.limit);
}

/** Messages whose text contains the pattern (case-insensitive), newest first. */
export function searchMessages(db: DbOrTx, p: { pattern: string; limit: number; after: Keyset | null }) {
  return db
    .select({
      id: messages.id,
      conversationId: messages.conversationId,
      direction: messages.direction,
      author: messages.author,
      body: sql<string>`${messages.body}`,
      createdAt: messages.createdAt,
      sortKey: keyText(messages.createdAt),
      contact: contactSummaryColumns,
    })
    .from(messages)
    .innerJoin(conversations, eq(conversations.id, messages.conversationId))
    .innerJoin(contacts, eq(contacts.id, conversations.contactId))
    .where(
      and(
        sql`${messages.body} ilike ${p.pattern}`,
        sql`${contacts.deletedAt} is null`,
        afterKeyset(messages.createdAt, messages.id, 'desc', p.after, 'timestamptz'),
      ),
    )
    .orderBy(keysetOrder(messages.createdAt, messages.id, 'desc'))
    .limit(p.limit + 1);
}

/** Sets the unread count to zero; returns false when it already was (or there is no such conversation). */
export async function clearUnread(db: DbOrTx, conversationId: string) {
  const rows = await db
    .update(conversations)
    .set({ unreadCount: 0 })
    .where(and(eq(conversations.id, conversationId), gt(conversations.unreadCount, 0)))
    .returning({ id: conversations.id });
  return rows.length > 0;
}

export async function conversationIdsExisting(db: DbOrTx, ids: string[]) {
  if (!ids.length) return new Set<string>();
  const rows = await db
    .select({ id: conversations.id })
    .from(conversations)
    .where(inArray(conversations.id, ids));
  return new Set(rows.map((r) => r.id));
}
