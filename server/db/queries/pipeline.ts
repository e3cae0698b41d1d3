import { and, desc, eq, fillPlaceholders, isNull, lte, sql } from 'drizzle-orm';
import { PgDialect } from 'drizzle-orm/pg-core';
import {
  activities,
  contactIdentities,
  contacts,
  conversations,
  deals,
  type IdentityKind,
  type MessageType,
  tasks,
} from '../../../drizzle';
import type { Db, DbOrTx } from '../types';
import { EVENTS_CHANNEL } from './events';
import { enqueueJobsSql } from './jobs';

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

export async function setContactNameIfEmpty(db: DbOrTx, contactId: string, name: string) {
  await db
    .update(contacts)
    .set({ name })
    .where(and(eq(contacts.id, contactId), isNull(contacts.name)));
}

export interface InboundToStore {
  /** E.164, or null when WhatsApp gave only a LID (then the contact must be known by that LID). */
  phone: string | null;
  lid: string | null;
  pushName: string | null;
  providerMessageId: string;
  type: MessageType;
  body: string | null;
  preview: string;
  /** How long the reply job waits for the customer to finish typing. */
  replyQuietMs: number;
}

export type StoreInboundResult =
  | { kind: 'stored'; conversationId: string; messageId: string }
  | { kind: 'duplicate' }
  | { kind: 'unknown-sender' }
  /** A concurrent statement created the contact or conversation, or stored this very message: run again. */
  | { kind: 'retry' };

/**
 * Customers' messages in ONE statement (the webhook's hot path), for one message or a batch of them:
 * each contact and conversation is found or created, each message inserted under its unique provider
 * id, and only for the messages that insert stored are the contact and conversation touched (last
 * message, unread count), the identities recorded, a campaign reply noted, the `message.created` event
 * logged (with one notification for the batch) and the reply job enqueued. A statement commits
 * atomically, so a duplicate delivery changes nothing and enqueues nothing.
 *
 * A batch may hold many messages of one customer: the conversation's unread count grows by their
 * number, its last message and preview are the batch's newest, and one reply job is enqueued per
 * conversation, for its newest message (the reply job of the newest message answers the whole burst,
 * see `server/pipeline/reply.ts`).
 *
 * Rows created by a concurrent statement are not visible in this statement's snapshot; then nothing is
 * written for that message and its result says `retry` (running it again sees them). A batch must not
 * hold two messages with one provider id, and one contact's messages must not be in two statements
 * running at once (see `server/pipeline/inbound-writer.ts`).
 *
 * A message's time is later than its conversation's last message (by a millisecond at least, the
 * column's precision; a new conversation's last message time is its newest message's), and within a batch each of a conversation's messages is a millisecond after
 * the one before it, so one customer's messages keep the order they were given in.
 *
 * The contact's `last_inbound_at` has a one-minute resolution (it is rewritten when a minute old, or
 * when the contact changes): the contacts table carries several indexes, and the exact time lives on
 * the conversation.
 */
function inboundStatement(replyQueue: string) {
  const text = (name: string) => sql`${sql.placeholder(name)}::text[]`;
  return sql`
    with input as (
      select * from unnest(${sql.placeholder('ord')}::int[], ${text('phone')}, ${text('lid')}, ${text('pushName')},
        ${text('providerMessageId')}, ${text('type')}, ${text('body')}, ${text('preview')}, ${sql.placeholder('quietMs')}::int[])
        as i (ord, phone, lid, push_name, provider_id, type, body, preview, quiet_ms)
    ),
    fresh as (
      select i.* from input i
      where not exists (select 1 from messages m where m.provider_message_id = i.provider_id)
    ),
    new_contact as (
      insert into contacts (phone, push_name, source, last_inbound_at)
      select distinct on (phone) phone, push_name, 'whatsapp', now() from fresh where phone is not null
      order by phone, push_name is null, ord desc
      on conflict (phone) do nothing
      returning id, phone
    ),
    contact as (
      select f.ord, coalesce(nc.id, c.id, ci.contact_id) as id
      from fresh f
      left join new_contact nc on nc.phone = f.phone
      left join contacts c on c.phone = f.phone
      left join contact_identities ci on f.phone is null and ci.kind = 'lid' and ci.value = f.lid
      where coalesce(nc.id, c.id, ci.contact_id) is not null
    ),
    new_conversation as (
      insert into conversations (contact_id, last_message_at, last_inbound_at, last_message_preview, unread_count)
      select id, last_at, last_at, preview, n from (
        select c.id, ((now() + (count(*) - 1) * interval '1 millisecond')::timestamptz(3)) as last_at,
          (array_agg(f.preview order by f.ord desc))[1] as preview, count(*) as n
        from contact c join fresh f using (ord)
        group by c.id) g
      on conflict (contact_id) do nothing
      returning id, contact_id
    ),
    conversation as (
      select c.ord, c.id as contact_id, coalesce(nv.id, v.id) as id, v.last_message_at
      from contact c
      left join new_conversation nv on nv.contact_id = c.id
      left join conversations v on v.contact_id = c.id
      where coalesce(nv.id, v.id) is not null
    ),
    message as (
      insert into messages (conversation_id, provider_message_id, type, body, author, direction, status, created_at)
      select v.id, f.provider_id, f.type, f.body, 'contact', 'inbound', 'received',
        greatest(now(), v.last_message_at + interval '1 millisecond')
          + (row_number() over (partition by v.id order by f.ord) - 1) * interval '1 millisecond'
      from conversation v join fresh f using (ord)
      order by f.ord
      on conflict (provider_message_id) do nothing
      returning id, conversation_id, provider_message_id, created_at
    ),
    stored as (
      select f.ord, f.phone, f.lid, f.push_name, f.preview, f.quiet_ms, v.contact_id, m.conversation_id, m.id,
        m.created_at
      from message m
      join fresh f on f.provider_id = m.provider_message_id
      join conversation v using (ord)
    ),
    touch_contact as (
      update contacts c set last_inbound_at = now(), push_name = coalesce(s.push_name, c.push_name),
        deleted_at = null, updated_at = now()
      from (select distinct on (contact_id) contact_id, push_name from stored
        order by contact_id, push_name is null, ord desc) s
      where c.id = s.contact_id
        and (c.last_inbound_at is null or c.last_inbound_at < now() - interval '1 minute'
          or c.deleted_at is not null or (s.push_name is not null and s.push_name is distinct from c.push_name))
    ),
    touch_conversation as (
      update conversations v set last_message_at = s.created_at, last_inbound_at = s.created_at,
        last_message_preview = s.preview, unread_count = v.unread_count + s.n, updated_at = now()
      from (select conversation_id, count(*)::int as n, max(created_at) as created_at,
          (array_agg(preview order by ord desc))[1] as preview
        from stored group by conversation_id) s
      where v.id = s.conversation_id
    ),
    identities as (
      insert into contact_identities (contact_id, kind, value)
      select distinct s.contact_id, x.kind, x.value
      from stored s cross join lateral (values ('phone', s.phone), ('lid', s.lid)) x (kind, value)
      where x.value is not null
      on conflict do nothing
    ),
    campaign_reply as (
      update campaign_recipients set replied_at = now()
      where id in (
          select (select r.id from campaign_recipients r
            where r.contact_id = s.contact_id and r.sent_at is not null order by r.sent_at desc limit 1)
          from stored s)
        and replied_at is null
    ),
    event as (
      insert into events (type, conversation_id, payload)
      select 'message.created', conversation_id, jsonb_build_object('type', 'message.created',
        'conversationId', conversation_id, 'messageId', id, 'direction', 'inbound', 'author', 'contact')
      from stored order by ord
      returning id
    ),
    reply_job as (${enqueueJobsSql(
      replyQueue,
      sql`select distinct on (conversation_id)
          jsonb_build_object('conversationId', conversation_id, 'messageId', id) as data,
          now() + quiet_ms * interval '1 millisecond' as start_after
        from stored order by conversation_id, ord desc`,
    )}),
    notified as (
      select pg_notify(${EVENTS_CHANNEL}::text, max(id)::text) from event having count(*) > 0
    )
    select i.ord, s.id as message_id, s.conversation_id,
      i.provider_id not in (select provider_id from fresh) as duplicate,
      i.ord in (select ord from contact) as contact_found,
      (select count(*) from notified) as notified
    from input i left join stored s using (ord)
    order by i.ord`;
}

const renderedInbound = new Map<string, { sql: string; params: unknown[] }>();

/** Stores a batch of inbound messages (see `inboundStatement`); results in the order given. */
export async function storeInboundMessages(
  db: Db,
  replyQueue: string,
  batch: InboundToStore[],
): Promise<StoreInboundResult[]> {
  let q = renderedInbound.get(replyQueue);
  if (!q) {
    q = new PgDialect().sqlToQuery(inboundStatement(replyQueue));
    renderedInbound.set(replyQueue, q);
  }
  const column = <K extends keyof InboundToStore>(k: K) => batch.map((m) => m[k]);
  const values = {
    ord: batch.map((_, i) => i),
    phone: column('phone'),
    lid: column('lid'),
    pushName: column('pushName'),
    providerMessageId: column('providerMessageId'),
    type: column('type'),
    body: column('body'),
    preview: batch.map((m) => m.preview.slice(0, 200)),
    quietMs: column('replyQuietMs'),
  };
  const client = db.$client;
  // A named prepared statement where the connection allows them (not behind a transaction pooler):
  // planned once per connection instead of on every webhook.
  const rows = await client.unsafe<
    Array<{
      ord: number;
      message_id: string | null;
      conversation_id: string | null;
      duplicate: boolean;
      contact_found: boolean;
    }>
  >(q.sql, fillPlaceholders(q.params, values) as never[], { prepare: client.options.prepare });
  return batch.map((m, i): StoreInboundResult => {
    const row = rows[i]!;
    if (row.message_id && row.conversation_id)
      return { kind: 'stored', conversationId: row.conversation_id, messageId: row.message_id };
    if (row.duplicate) return { kind: 'duplicate' };
    if (!row.contact_found && !m.phone) return { kind: 'unknown-sender' };
    return { kind: 'retry' };
  });
}
