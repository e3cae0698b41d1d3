import { and, eq, fillPlaceholders, gt, inArray, lte, type SQL, sql } from 'drizzle-orm';
import {
  botEvents,
  type ConversationStatus,
  contactActivityAt,
  contactSearchText,
  contacts,
  conversationActivityAt,
  conversations,
  type MessageType,
  messages,
  type Owner,
  staff,
  tasks,
} from '../../../drizzle';
import type { Db, DbOrTx } from '../types';
import { contactSearchCondition, contactSummaryColumns, jsonList } from './contacts';
import { afterKeyset, type Keyset, keysetOrder, keyText, likePattern } from './keyset';
import { MEDIA_WAIT_LIMIT_MS } from './media';
import { builtOnce, type Executable, unnamed } from './prepared';

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
  channel: conversations.channel,
};

/** The inbox fields of a conversation (status, assignee, labels, waiting time). */
export const inboxColumns = {
  status: conversations.status,
  snoozedUntil: conversations.snoozedUntil,
  assigneeId: conversations.assigneeId,
  assigneeName: staff.displayName,
  labels: conversations.labels,
  waitingSince: conversations.waitingSince,
};

export async function findConversation(db: DbOrTx, id: string) {
  const [row] = await db
    .select({
      ...conversationColumns,
      ...inboxColumns,
      lastInboundAt: conversations.lastInboundAt,
      lastAgentAt: conversations.lastAgentAt,
    })
    .from(conversations)
    .leftJoin(staff, eq(staff.id, conversations.assigneeId))
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
  /** A staff id, or null for unassigned conversations. */
  assigneeId?: string | null;
  status?: ConversationStatus;
  label?: string;
  /** Only conversations assigned to this staff member or to nobody (AGENT_VISIBILITY=assigned). */
  visibleTo?: string;
  limit: number;
  after: Keyset | null;
}

/**
 * The inbox query: conversations of contacts not deleted, newest activity first. With `placeholders`,
 * every value is a named placeholder (owner, leadStatus, tag, pattern: contactSearchPattern of q,
 * afterKey, afterId, limit), so the query is built once per filter shape.
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
    f.tag ? sql`${contacts.tags} @> array[${value('tag', f.tag)}]::text[]` : undefined,
    f.assigneeId === undefined
      ? undefined
      : f.assigneeId === null
        ? sql`${conversations.assigneeId} is null`
        : sql`${conversations.assigneeId} = ${value('assigneeId', f.assigneeId)}::uuid`,
    f.visibleTo
      ? sql`(${conversations.assigneeId} is null or ${conversations.assigneeId} = ${value('visibleTo', f.visibleTo)}::uuid)`
      : undefined,
    f.status ? sql`${conversations.status} = ${value('status', f.status)}` : undefined,
    f.label ? sql`${conversations.labels} @> array[${value('label', f.label)}]::text[]` : undefined,
    f.leadStatus ? eq(contacts.leadStatus, value('leadStatus', f.leadStatus)) : undefined,
    f.q
      ? placeholders
        ? sql`${contactSearchText(contacts)} ilike ${sql.placeholder('pattern')}`
        : contactSearchCondition(f.q)
      : undefined,
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
      ...inboxColumns,
      channel: conversations.channel,
    })
    .from(conversations)
    .innerJoin(contacts, eq(contacts.id, conversations.contactId))
    .leftJoin(staff, eq(staff.id, conversations.assigneeId))
    .leftJoinLateral(handoff, sql`true`)
    .where(and(...where))
    .orderBy(keysetOrder(activityAt, conversations.id, 'desc', 'last'))
    .limit(value('limit', f.limit + 1));
}

type ListRows = Awaited<ReturnType<typeof conversationListQuery>>;
type ListRow = ListRows[number];

interface ListStatement {
  text: string;
  params: unknown[];
  /** Named (prepared) or unnamed (planned per call). */
  prepare: boolean;
}
const listStatements = new WeakMap<Db, Map<string, ListStatement>>();

const date = (v: unknown) => (v === null ? null : new Date(v as string));

/**
 * A row of the inbox query (its select list, in order) as Drizzle maps it: the same objects, with
 * timestamps read as Drizzle reads them from postgres.js (text to Date), without Drizzle's generic
 * per-field work. A test checks it against Drizzle's own mapping.
 */
function listRow(r: unknown[]): ListRow {
  return {
    id: r[0],
    owner: r[1],
    ownerSince: date(r[2]),
    botResumesAt: date(r[3]),
    unreadCount: r[4],
    lastMessageAt: date(r[5]),
    lastMessagePreview: r[6],
    lastInboundAt: date(r[7]),
    hasOpenHandoff: r[8],
    sortKey: r[9],
    contact: {
      id: r[10],
      phone: r[11],
      name: r[12],
      pushName: r[13],
      leadStatus: r[14],
      leadScore: r[15],
      tags: r[16],
      optedOutAt: date(r[17]),
    },
    status: r[18],
    snoozedUntil: date(r[19]),
    assigneeId: r[20],
    assigneeName: r[21],
    labels: r[22],
    waitingSince: date(r[23]),
    channel: r[24],
  } as ListRow;
}

/**
 * The inbox page. Its query is built and rendered once per filter shape; the common shapes run as
 * named prepared statements (Postgres may reuse the plan: their plans hardly depend on the values),
 * tag and text filters, whose best plan depends on how rare the value is, as unnamed statements
 * planned per call with their values. Rows are mapped by listRow.
 */
export async function listConversations(db: Db, f: ConversationListFilter): Promise<ListRows> {
  const shape = [
    f.owner ? 'owner' : '',
    f.unread,
    f.hasOpenHandoff,
    f.optedOut,
    f.leadStatus ? 'status' : '',
    f.tag ? 'tag' : '',
    f.q ? 'q' : '',
    f.after ? 'after' : '',
    f.assigneeId === undefined ? '' : f.assigneeId === null ? 'unassigned' : 'assignee',
    f.visibleTo ? 'visible' : '',
    f.status ? 'st' : '',
    f.label ? 'label' : '',
  ].join('|');
  let byShape = listStatements.get(db);
  if (!byShape) {
    byShape = new Map();
    listStatements.set(db, byShape);
  }
  let statement = byShape.get(shape);
  if (!statement) {
    const { sql: text, params } = conversationListQuery(db, f, true).toSQL();
    statement = { text, params, prepare: !(f.q || f.tag || f.label) };
    byShape.set(shape, statement);
  }
  const values = fillPlaceholders(statement.params, {
    owner: f.owner,
    leadStatus: f.leadStatus,
    tag: f.tag,
    pattern: f.q ? contactSearchPattern(f.q) : undefined,
    afterKey: f.after?.key,
    afterId: f.after?.id,
    assigneeId: f.assigneeId ?? undefined,
    visibleTo: f.visibleTo,
    status: f.status,
    label: f.label,
    limit: f.limit + 1,
  });
  const rows = await db.$client
    .unsafe(statement.text, values as never[], { prepare: statement.prepare })
    .values();
  return rows.map(listRow);
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
      actorName: botEvents.actorName,
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
  actorType: messages.actorType,
  actorName: messages.actorName,
  campaignId: messages.campaignId,
  sentAt: messages.sentAt,
  deliveredAt: messages.deliveredAt,
  readAt: messages.readAt,
  createdAt: messages.createdAt,
  card: messages.card,
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

/**
 * The pattern contactSearchCondition matches a search with: a query made of phone characters by its
 * digits, anything else as typed (LIKE wildcards escaped). Kept equal to it (a test checks).
 */
export function contactSearchPattern(q: string): string {
  const digits = q.replace(/\D/g, '');
  const phoneLike = /^[\d\s()+.-]+$/.test(q) && digits.length >= 3;
  return likePattern(phoneLike ? digits : q);
}

/**
 * Contacts matching a search, most recently active first, with their conversation if any. With
 * `placeholders`, the pattern (contactSearchPattern) and the limit are named placeholders.
 */
export function searchContacts(
  db: DbOrTx,
  p: { q: string; limit: number; visibleTo?: string },
  placeholders = false,
) {
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
    .where(
      and(
        sql`${contacts.deletedAt} is null`,
        placeholders
          ? sql`${contactSearchText(contacts)} ilike ${sql.placeholder('pattern')}`
          : contactSearchCondition(p.q),
        p.visibleTo
          ? sql`not exists (select 1 from ${conversations} cv where cv.contact_id = ${sql.identifier('contacts')}.id
              and cv.assignee_id is not null and cv.assignee_id <> ${placeholders ? sql.placeholder('visibleTo') : p.visibleTo}::uuid)`
          : undefined,
      ),
    )
    .orderBy(keysetOrder(contactActivityAt(contacts), contacts.id, 'desc', 'last'))
    .limit(placeholders ? sql.placeholder('limit') : p.limit);
}

/**
 * Messages whose text contains the pattern (case-insensitive), newest first. With `placeholders`,
 * the pattern, the cursor and the limit are named placeholders.
 */
export function searchMessages(
  db: DbOrTx,
  p: { pattern: string; limit: number; after: Keyset | null; visibleTo?: string },
  placeholders = false,
) {
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
        sql`${messages.body} ilike ${placeholders ? sql.placeholder('pattern') : p.pattern}`,
        sql`${contacts.deletedAt} is null`,
        p.visibleTo
          ? sql`(${conversations.assigneeId} is null or ${conversations.assigneeId} = ${placeholders ? sql.placeholder('visibleTo') : p.visibleTo}::uuid)`
          : undefined,
        p.after && placeholders
          ? sql`(${messages.createdAt}, ${messages.id}) < (${sql.placeholder('afterKey')}::timestamptz, ${sql.placeholder('afterId')}::uuid)`
          : afterKeyset(messages.createdAt, messages.id, 'desc', p.after, 'timestamptz'),
      ),
    )
    .orderBy(keysetOrder(messages.createdAt, messages.id, 'desc'))
    .limit(placeholders ? sql.placeholder('limit') : p.limit + 1);
}

const builtQueries = new WeakMap<DbOrTx, Map<string, Executable<unknown>>>();

/** The query of this db and shape, built on first use. */
function built<T>(db: DbOrTx, shape: string, build: () => Executable<T>): Executable<T> {
  let byShape = builtQueries.get(db);
  if (!byShape) {
    byShape = new Map();
    builtQueries.set(db, byShape);
  }
  let q = byShape.get(shape);
  if (!q) {
    q = build();
    byShape.set(shape, q);
  }
  return q as Executable<T>;
}

type ContactHits = Awaited<ReturnType<typeof searchContacts>>;
type MessageHits = Awaited<ReturnType<typeof searchMessages>>;

/** searchContacts, built once per db. */
export function findContacts(
  db: DbOrTx,
  p: { q: string; limit: number; visibleTo?: string },
): Promise<ContactHits> {
  return built(db, p.visibleTo ? 'search-contacts-visible' : 'search-contacts', () =>
    unnamed(searchContacts(db, p, true)),
  ).execute({
    pattern: contactSearchPattern(p.q),
    limit: p.limit,
    ...(p.visibleTo ? { visibleTo: p.visibleTo } : {}),
  });
}

/** searchMessages, built once per db (and cursor or not). */
export function findMessages(
  db: DbOrTx,
  p: { pattern: string; limit: number; after: Keyset | null; visibleTo?: string },
): Promise<MessageHits> {
  const shape = `search-messages${p.after ? '-after' : ''}${p.visibleTo ? '-visible' : ''}`;
  return built(db, shape, () => unnamed(searchMessages(db, p, true))).execute({
    pattern: p.pattern,
    limit: p.limit + 1,
    afterKey: p.after?.key,
    afterId: p.after?.id,
    ...(p.visibleTo ? { visibleTo: p.visibleTo } : {}),
  });
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

/** The contact's conversation, created on first contact; returns its id. */
export async function upsertConversation(db: DbOrTx, contactId: string) {
  const [row] = await db
    .insert(conversations)
    .values({ contactId })
    .onConflictDoUpdate({ target: conversations.contactId, set: { contactId } })
    .returning({ id: conversations.id });
  return row!.id;
}

/** One built statement per shape of conversation touch (inbound or not, by an agent or not). */
const touchStatements = new Map<string, ReturnType<typeof touchStatement>>();
function touchStatement(inbound: boolean, agent: boolean) {
  // Raw placeholders skip the column's encoding: the time goes in as ISO text.
  const at = sql`${sql.placeholder('at')}::timestamptz`;
  return builtOnce((db) =>
    db
      .update(conversations)
      .set({
        lastMessageAt: at,
        lastMessagePreview: sql`${sql.placeholder('preview')}::text`,
        ...(inbound ? { lastInboundAt: at, unreadCount: sql`${conversations.unreadCount} + 1` } : {}),
        ...(agent ? { lastAgentAt: at } : {}),
        // Set per call: Drizzle's onUpdate time would be fixed when the statement is built.
        updatedAt: sql`${sql.placeholder('now')}::timestamptz`,
      })
      .where(eq(conversations.id, sql.placeholder('id'))),
  );
}

export async function touchConversation(
  db: DbOrTx,
  id: string,
  p: { at: Date; preview: string; inbound: boolean; agent?: boolean },
) {
  const key = `${p.inbound}:${p.agent === true}`;
  let statement = touchStatements.get(key);
  if (!statement) {
    statement = touchStatement(p.inbound, p.agent === true);
    touchStatements.set(key, statement);
  }
  await statement(db).execute({
    id,
    at: p.at.toISOString(),
    preview: p.preview.slice(0, 200),
    now: new Date().toISOString(),
  });
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

const lockStatement = builtOnce((db) =>
  db
    .select({
      id: conversations.id,
      botHandledThrough: conversations.botHandledThrough,
      owner: conversations.owner,
      botResumesAt: conversations.botResumesAt,
      latest: latestInboundSql,
    })
    .from(conversations)
    .where(eq(conversations.id, sql.placeholder('id')))
    .for('update'),
);

/**
 * The conversation a reply is being written for, locked for the rest of the transaction, with its
 * newest inbound message (to tell whether the reply was overtaken) and its owner (to tell whether a
 * person took over meanwhile).
 */
export async function lockConversation(db: DbOrTx, id: string) {
  const [row] = await lockStatement(db).execute({ id });
  return row ? { ...row, latest: parseLatest(row.latest) } : null;
}

const readColumns = {
  id: conversations.id,
  contactId: conversations.contactId,
  channel: conversations.channel,
  lastInboundAt: conversations.lastInboundAt,
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
};

const readStatement = builtOnce((db) =>
  db
    .select(readColumns)
    .from(conversations)
    .innerJoin(contacts, eq(contacts.id, conversations.contactId))
    .where(eq(conversations.id, sql.placeholder('id')))
    .limit(1),
);

export async function readConversation(db: DbOrTx, id: string) {
  const [row] = await readStatement(db).execute({ id });
  return row ? { ...row, latest: parseLatest(row.latest) } : null;
}

/**
 * The inbound messages after the bot's handled mark (the burst a reply answers), oldest first, as
 * JSON; `mediaPending` when a message's file is still being downloaded, for at most
 * MEDIA_WAIT_LIMIT_MS (a file pending longer no longer holds the reply back).
 */
const burstSql = sql<unknown>`(
  select coalesce(json_agg(json_build_object('id', m.id, 'type', m.type, 'body', m.body,
      'createdAt', m.created_at, 'mediaPending', exists (select 1 from message_media mm
        where mm.message_id = m.id and mm.status = 'pending'
          and mm.created_at > ${sql.placeholder('mediaSince')}::timestamptz))
    order by m.created_at, m.id), '[]')
  from messages m
  where m.conversation_id = "conversations"."id" and m.direction = 'inbound'
    and ("conversations"."bot_handled_through" is null or m.created_at > "conversations"."bot_handled_through"))`;

const readForReplyStatement = builtOnce((db) =>
  db
    .select({ ...readColumns, burst: burstSql })
    .from(conversations)
    .innerJoin(contacts, eq(contacts.id, conversations.contactId))
    .where(eq(conversations.id, sql.placeholder('id')))
    .limit(1),
);

export interface BurstMessage {
  id: string;
  type: MessageType;
  body: string | null;
  createdAt: Date;
  mediaPending: boolean;
}

/**
 * The conversation a reply job starts from (as `readConversation`), with, read in the same
 * statement, the burst it answers: every inbound message after the handled mark, up to the newest
 * one (`latest`).
 */
export async function readConversationForReply(db: DbOrTx, id: string) {
  const [row] = await readForReplyStatement(db).execute({
    id,
    mediaSince: new Date(Date.now() - MEDIA_WAIT_LIMIT_MS).toISOString(),
  });
  if (!row) return null;
  const { burst, ...conv } = row;
  return {
    ...conv,
    latest: parseLatest(conv.latest),
    burst: jsonList<Omit<BurstMessage, 'createdAt'> & { createdAt: string }>(burst).map(
      (m): BurstMessage => ({ ...m, createdAt: new Date(m.createdAt) }),
    ),
  };
}

const handledStatement = builtOnce((db) =>
  db
    .update(conversations)
    .set({
      botHandledThrough: sql`greatest(${conversations.botHandledThrough}, ${sql.placeholder('at')}::timestamptz)`,
      updatedAt: sql`${sql.placeholder('now')}::timestamptz`,
    })
    .where(eq(conversations.id, sql.placeholder('id'))),
);

export async function setHandledThrough(db: DbOrTx, id: string, at: Date) {
  await handledStatement(db).execute({ id, at: at.toISOString(), now: new Date().toISOString() });
}

/** Human-owned conversations whose quiet time is over: the bot takes them back. */
export function conversationsDueForResume(db: DbOrTx, now: Date, limit: number) {
  return db
    .select({ id: conversations.id })
    .from(conversations)
    .where(and(eq(conversations.owner, 'human'), lte(conversations.botResumesAt, now)))
    .limit(limit);
}

/** What the Cloud API's 24-hour window is counted from: the conversation's channel and last customer message. */
export async function windowFacts(db: DbOrTx, id: string) {
  const [row] = await db
    .select({ channel: conversations.channel, lastInboundAt: conversations.lastInboundAt })
    .from(conversations)
    .where(eq(conversations.id, id))
    .limit(1);
  return row ?? null;
}
