import {
  and,
  asc,
  desc,
  eq,
  fillPlaceholders,
  gt,
  inArray,
  isNotNull,
  isNull,
  lt,
  or,
  type SQL,
  sql,
} from 'drizzle-orm';
import { PgDialect } from 'drizzle-orm/pg-core';
import {
  type ActorType,
  type AiUsage,
  type Author,
  contacts,
  conversations,
  earlyStatuses,
  events,
  type MessageStatus,
  type MessageType,
  messages,
  throttles,
} from '../../../drizzle';
import { once } from '../../once';
import type { Db, DbOrTx } from '../types';
import { jsonList } from './contacts';
import { EVENTS_CHANNEL } from './events';
import { enqueueJobsSql } from './jobs';
import { QUEUE_MEDIA } from './media';
import { builtOnce, rawOnce } from './prepared';
import { placeholderStep, stepMicros } from './throttles';

/** Forward order of delivery statuses; a status never moves to a lower rank. */
export const STATUS_RANK: Record<MessageStatus, number> = {
  not_configured: 0,
  queued: 0,
  pending: 1,
  received: 2,
  sent: 2,
  delivered: 3,
  read: 4,
  played: 5,
  failed: 6,
};

const rankSql = (column: typeof messages.status) => sql`(case ${column}
  when 'queued' then 0 when 'not_configured' then 0 when 'pending' then 1 when 'sent' then 2
  when 'received' then 2 when 'delivered' then 3 when 'read' then 4 when 'played' then 5 else 6 end)`;

export async function insertInbound(
  db: DbOrTx,
  row: {
    conversationId: string;
    providerMessageId: string;
    type: MessageType;
    body: string | null;
    author: Author;
    direction: 'inbound' | 'outbound';
    status: MessageStatus;
    actorId?: string | null;
  },
) {
  const [created] = await db
    .insert(messages)
    .values(row)
    .onConflictDoNothing({ target: messages.providerMessageId })
    .returning({ id: messages.id, createdAt: messages.createdAt });
  return created ?? null;
}

export interface OutboundRow {
  conversationId: string;
  author: Author;
  body: string;
  status: MessageStatus;
  replyGroup: string;
  partIndex: number;
  ai?: AiUsage | null;
  actorId?: string | null;
  actorType?: ActorType | null;
  actorName?: string | null;
  campaignId?: string | null;
  error?: string | null;
  cloudTemplate?: { name: string; language: string; values: string[] } | null;
  /** 'text' unless the row carries a file (its `message_media` row). */
  type?: MessageType;
}

/** The insert of `count` outbound rows, built once per count (a reply has a few parts at most). */
const outboundInserts = new Map<number, ReturnType<typeof outboundInsert>>();
function outboundInsert(count: number) {
  return builtOnce((db) =>
    db
      .insert(messages)
      .values(
        Array.from({ length: count }, (_, i) => {
          const p = (name: string) => sql.placeholder(`${name}${i}`);
          return {
            conversationId: p('conversationId'),
            author: p('author'),
            body: p('body'),
            status: p('status'),
            replyGroup: p('replyGroup'),
            partIndex: p('partIndex'),
            // jsonb values go in as text Drizzle does not encode, so a null stays SQL null.
            ai: sql`${p('ai')}::jsonb`,
            actorId: p('actorId'),
            actorType: p('actorType'),
            actorName: p('actorName'),
            campaignId: p('campaignId'),
            error: p('error'),
            cloudTemplate: sql`${p('cloudTemplate')}::jsonb`,
            type: p('type'),
            direction: 'outbound' as const,
          };
        }),
      )
      .returning({ id: messages.id, partIndex: messages.partIndex, status: messages.status }),
  );
}

/**
 * `updated_at` as Drizzle's `$onUpdate` gives it (this process's clock), for updates built once: Drizzle
 * would evaluate `$onUpdate` when the statement is built and keep that time.
 */
const nowText = () => new Date().toISOString();

const json = (v: unknown) => (v == null ? null : JSON.stringify(v));

export async function insertOutbound(db: DbOrTx, rows: OutboundRow[]) {
  if (!rows.length) throw new Error('insertOutbound: no rows');
  let insert = outboundInserts.get(rows.length);
  if (!insert) {
    insert = outboundInsert(rows.length);
    outboundInserts.set(rows.length, insert);
  }
  const values: Record<string, unknown> = {};
  rows.forEach((r, i) => {
    values[`conversationId${i}`] = r.conversationId;
    values[`author${i}`] = r.author;
    values[`body${i}`] = r.body;
    values[`status${i}`] = r.status;
    values[`replyGroup${i}`] = r.replyGroup;
    values[`partIndex${i}`] = r.partIndex;
    values[`ai${i}`] = json(r.ai);
    values[`actorId${i}`] = r.actorId ?? null;
    values[`actorType${i}`] = r.actorType ?? null;
    values[`actorName${i}`] = r.actorName ?? null;
    values[`campaignId${i}`] = r.campaignId ?? null;
    values[`error${i}`] = r.error ?? null;
    values[`cloudTemplate${i}`] = json(r.cloudTemplate);
    values[`type${i}`] = r.type ?? 'text';
  });
  return insert(db).execute(values);
}

/** The queue of send jobs (one per outbound message part, the first part's job scheduling the next). */
export const QUEUE_SEND = 'pipeline.send';

export interface OutboundReply {
  conversationId: string;
  author: Author;
  /** The parts, in order: one row each, `part_index` 0, 1, … */
  parts: string[];
  status: 'queued' | 'not_configured';
  error: string | null;
  replyGroup: string;
  /** Kept on the first part. */
  ai: AiUsage | null;
  actorId: string | null;
  actorType: ActorType | null;
  actorName: string | null;
  campaignId: string | null;
  cloudTemplate: { name: string; language: string; values: string[] } | null;
  /** The conversation's last message time (this process's clock, like every touch). */
  at: Date;
  /** Sets the conversation's `last_agent_at` too. */
  agent: boolean;
  /** Also marks the conversation's inbound messages up to this time as handled by the bot. */
  handledThrough: Date | null;
  /** Enqueue the first part's send job (false: the rows are kept unsent, e.g. not configured). */
  send: boolean;
}

/**
 * An outbound text in one statement: its parts' rows, the conversation's touch (and, for a bot
 * reply, the handled mark), a `message.created` event per part with the notification carrying the
 * newest event id, and the first part's send job. Values are arrays (unnest), so one rendered text
 * serves any number of parts, and text goes in as text, never through JSON.
 */
const outboundStatement = rawOnce(() => {
  const p = sql.placeholder;
  const at = sql`${p('at')}::timestamptz`;
  const handled = sql`${p('handledThrough')}::timestamptz`;
  return sql`
    with part as (
      select * from unnest(${p('bodies')}::text[]) with ordinality as x(body, n)
    ),
    stored as (
      insert into messages (conversation_id, direction, author, type, body, status, error, reply_group, part_index,
        ai, cloud_template, actor_id, actor_type, actor_name, campaign_id)
      select ${p('conversationId')}::uuid, 'outbound', ${p('author')}::text, 'text', body, ${p('status')}::text,
        ${p('error')}::text, ${p('replyGroup')}::uuid, n - 1,
        case when n = 1 then ${p('ai')}::jsonb end, ${p('cloudTemplate')}::jsonb,
        ${p('actorId')}::text, ${p('actorType')}::text, ${p('actorName')}::text, ${p('campaignId')}::uuid
      from part order by n
      returning id, part_index
    ),
    touch as (
      update conversations set last_message_at = ${at}, last_message_preview = ${p('preview')}::text,
        last_agent_at = case when ${p('agent')}::boolean then ${at} else last_agent_at end,
        bot_handled_through = case when ${handled} is null then bot_handled_through
          else greatest(bot_handled_through, ${handled}) end,
        updated_at = ${p('now')}::timestamptz
      where id = ${p('conversationId')}::uuid
    ),
    event as (
      insert into events (type, conversation_id, payload)
      select 'message.created', ${p('conversationId')}::uuid, jsonb_build_object('type', 'message.created',
        'conversationId', ${p('conversationId')}::uuid, 'messageId', id, 'direction', 'outbound',
        'author', ${p('author')}::text)
      from stored order by part_index
      returning id
    ),
    send_job as (${enqueueJobsSql(
      QUEUE_SEND,
      sql`select jsonb_build_object('messageId', id) as data, now() as start_after
        from stored where part_index = 0 and ${p('send')}::boolean`,
    )}),
    notified as (
      select pg_notify(${EVENTS_CHANNEL}::text, max(id)::text) from event having count(*) > 0
    )
    select id, part_index as "partIndex", (select count(*) from send_job)::int as jobs,
      (select count(*) from notified) as notified
    from stored order by part_index`;
});

/** Stores an outbound text (see `outboundStatement`) in the caller's transaction; ids in part order. */
export async function storeOutbound(tx: DbOrTx, r: OutboundReply): Promise<string[]> {
  if (!r.parts.length) throw new Error('storeOutbound: no parts');
  const rows = (await outboundStatement(tx).execute({
    bodies: r.parts,
    conversationId: r.conversationId,
    author: r.author,
    status: r.status,
    error: r.error,
    replyGroup: r.replyGroup,
    ai: json(r.ai),
    cloudTemplate: json(r.cloudTemplate),
    actorId: r.actorId,
    actorType: r.actorType,
    actorName: r.actorName,
    campaignId: r.campaignId,
    at: r.at.toISOString(),
    preview: r.parts.at(-1)!.slice(0, 200),
    agent: r.agent,
    handledThrough: r.handledThrough?.toISOString() ?? null,
    now: nowText(),
    send: r.send,
  })) as unknown as Array<{ id: string; partIndex: number; jobs: number }>;
  // The job insert joins the queue's row: a queue not created yet would silently get no job.
  if (r.send && rows[0]?.jobs !== 1) throw new Error(`storeOutbound: the queue ${QUEUE_SEND} does not exist`);
  return rows.map((row) => row.id);
}

export async function findMessageByProviderId(db: DbOrTx, providerMessageId: string) {
  const [row] = await db
    .select({ id: messages.id, conversationId: messages.conversationId, direction: messages.direction })
    .from(messages)
    .where(eq(messages.providerMessageId, providerMessageId))
    .limit(1);
  return row ?? null;
}

/**
 * The text of a message as compared with its echo: WhatsApp may change whitespace (runs, line
 * ends, trailing blanks) and Unicode composition on the way, never the words.
 */
export function echoText(text: string): string {
  return text.normalize('NFC').replace(/\s+/gu, ' ').trim();
}

/**
 * Links our own outbound message to the WhatsApp id of its echo (a `fromMe` webhook), claiming it:
 * the message whose gateway id (WaSender's msgId) the echo names, else the oldest message of the
 * conversation with the same text (compared by `echoText`) that no echo has claimed yet, sent in the
 * last day. Null when none matches.
 */
export async function claimEchoedOutbound(
  db: DbOrTx,
  p: {
    conversationId: string;
    body: string | null;
    providerMessageId: string;
    gatewayMessageId?: string | null;
  },
) {
  const claim = async (id: string) => {
    const [row] = await db
      .update(messages)
      .set({ providerMessageId: p.providerMessageId })
      .where(and(eq(messages.id, id), isNull(messages.providerMessageId)))
      .returning({ id: messages.id, status: messages.status, gatewayMessageId: messages.gatewayMessageId });
    return row ?? null;
  };
  if (p.gatewayMessageId) {
    const [byId] = await db
      .select({ id: messages.id })
      .from(messages)
      .where(
        and(
          eq(messages.gatewayMessageId, p.gatewayMessageId),
          eq(messages.direction, 'outbound'),
          isNull(messages.providerMessageId),
        ),
      )
      .limit(1)
      .for('update', { skipLocked: true });
    if (byId) return claim(byId.id);
  }
  if (!p.body) return null;
  const wanted = echoText(p.body);
  if (!wanted) return null;
  const candidates = await db
    .select({ id: messages.id, body: messages.body })
    .from(messages)
    .where(
      and(
        eq(messages.conversationId, p.conversationId),
        eq(messages.direction, 'outbound'),
        isNull(messages.providerMessageId),
        gt(messages.createdAt, sql`now() - interval '1 day'`),
      ),
    )
    .orderBy(asc(messages.createdAt), asc(messages.partIndex))
    .limit(200)
    .for('update', { skipLocked: true });
  const match = candidates.find((c) => c.body !== null && echoText(c.body) === wanted);
  return match ? claim(match.id) : null;
}

/** An outbound message by one of the gateway's ids (WhatsApp's key id first, then WaSender's msgId). */
export async function findOutboundByIds(
  db: DbOrTx,
  ids: { providerMessageId?: string | null; gatewayMessageId?: string | null },
) {
  const cols = {
    id: messages.id,
    conversationId: messages.conversationId,
    status: messages.status,
    campaignId: messages.campaignId,
    providerMessageId: messages.providerMessageId,
    gatewayMessageId: messages.gatewayMessageId,
  };
  if (ids.providerMessageId) {
    const [row] = await db
      .select(cols)
      .from(messages)
      .where(and(eq(messages.providerMessageId, ids.providerMessageId), eq(messages.direction, 'outbound')))
      .limit(1);
    if (row) return row;
  }
  if (ids.gatewayMessageId) {
    const [row] = await db
      .select(cols)
      .from(messages)
      .where(and(eq(messages.gatewayMessageId, ids.gatewayMessageId), eq(messages.direction, 'outbound')))
      .orderBy(desc(messages.createdAt))
      .limit(1);
    if (row) return row;
  }
  return null;
}

/**
 * Records WhatsApp's id of a message known by its gateway id, when the message has none yet and no
 * other message carries that id. Returns whether it was recorded.
 */
export async function linkProviderId(db: DbOrTx, id: string, providerMessageId: string) {
  const [row] = await db
    .update(messages)
    .set({ providerMessageId })
    .where(
      and(
        eq(messages.id, id),
        isNull(messages.providerMessageId),
        sql`not exists (select 1 from ${messages} o where o.provider_message_id = ${providerMessageId})`,
      ),
    )
    .returning({ id: messages.id });
  return row !== undefined;
}

/**
 * Moves a message's status forward only, the same result whatever order the events come in:
 * - queued → pending → sent → delivered → read → played, never back;
 * - `failed` applies only before delivery (queued, pending, sent). A failure reported after
 *   `delivered` is ignored: the message reached the customer's phone;
 * - a sign of delivery (`delivered`, `read`, `played`) overrides `failed`: the phone has it;
 * - `sent` overrides only a failure of our own send attempt whose outcome was unknown (no answer
 *   from the gateway, interrupted: `sent_at` never set), not a failure the gateway reported.
 * Returns the updated row, or null when the event was late, repeated or about an unknown message.
 */
export async function advanceStatus(
  db: DbOrTx,
  where: { providerMessageId: string } | { gatewayMessageId: string } | { id: string },
  status: MessageStatus,
  error: string | null,
  at: Date,
) {
  const target =
    'id' in where
      ? eq(messages.id, where.id)
      : 'providerMessageId' in where
        ? eq(messages.providerMessageId, where.providerMessageId)
        : eq(messages.gatewayMessageId, where.gatewayMessageId);
  const atSql = sql`${at.toISOString()}::timestamptz`;
  const [row] = await db
    .update(messages)
    .set({
      status,
      error: status === 'failed' ? (error ?? 'WhatsApp reported the message as failed').slice(0, 500) : null,
      ...(status === 'sent' ? { sentAt: sql`coalesce(${messages.sentAt}, ${atSql})` } : {}),
      ...(status === 'delivered' ? { deliveredAt: sql`coalesce(${messages.deliveredAt}, ${atSql})` } : {}),
      ...(status === 'read' || status === 'played'
        ? { readAt: sql`coalesce(${messages.readAt}, ${atSql})` }
        : {}),
    })
    .where(and(target, eq(messages.direction, 'outbound'), advanceGuard(status)))
    .returning({
      id: messages.id,
      conversationId: messages.conversationId,
      status: messages.status,
      campaignId: messages.campaignId,
    });
  return row ?? null;
}

/** Where a move to `status` is allowed (see `advanceStatus`). */
function advanceGuard(status: MessageStatus) {
  const rank = rankSql(messages.status);
  if (status === 'failed') return sql`${rank} < 3`;
  if (status === 'sent')
    return sql`(${rank} < 2 or (${messages.status} = 'failed' and ${messages.sentAt} is null))`;
  if (STATUS_RANK[status] >= 3)
    return sql`(${rank} < ${STATUS_RANK[status]} or ${messages.status} = 'failed')`;
  return sql`${rank} < ${STATUS_RANK[status]}`;
}

const outboundForSend = builtOnce((db) =>
  db
    .select({
      id: messages.id,
      conversationId: messages.conversationId,
      body: messages.body,
      type: messages.type,
      status: messages.status,
      replyGroup: messages.replyGroup,
      partIndex: messages.partIndex,
      providerMessageId: messages.providerMessageId,
      gatewayMessageId: messages.gatewayMessageId,
      campaignId: messages.campaignId,
      author: messages.author,
      updatedAt: messages.updatedAt,
      contactId: contacts.id,
      phone: contacts.phone,
      channel: conversations.channel,
      lastInboundAt: conversations.lastInboundAt,
      cloudTemplate: messages.cloudTemplate,
    })
    .from(messages)
    .innerJoin(conversations, eq(conversations.id, messages.conversationId))
    .innerJoin(contacts, eq(contacts.id, conversations.contactId))
    .where(and(eq(messages.id, sql.placeholder('id')), eq(messages.direction, 'outbound')))
    .limit(1),
);

/** The message a send job works on, with the phone it goes to. */
export async function findOutboundForSend(db: DbOrTx, id: string) {
  const [row] = await outboundForSend(db).execute({ id });
  return row ?? null;
}

/**
 * The send job's first statement: the message as `findOutboundForSend` reads it and, when `reserve` is
 * given and the message is queued, the next slot of that throttle bucket as `reserveSlot` takes it
 * (one round trip instead of two). `slot` is null when no slot was taken.
 */
const outboundForSendReserving = rawOnce<Array<Record<string, unknown>>>(() => {
  const step = placeholderStep();
  // The reservation as reserveSlot makes it (throttles.ts), for a queued message only.
  return sql`with m as (
      select m.id, m.conversation_id, m.body, m.type, m.status, m.reply_group, m.part_index,
        m.provider_message_id, m.gateway_message_id, m.campaign_id, m.author, m.updated_at,
        c.id as contact_id, c.phone, v.channel, v.last_inbound_at, m.cloud_template
      from ${messages} m
        join ${conversations} v on v.id = m.conversation_id
        join ${contacts} c on c.id = v.contact_id
      where m.id = ${sql.placeholder('id')}::uuid and m.direction = 'outbound'
      limit 1),
    reserved as (
      insert into ${throttles} (name, next_slot_at)
      select ${sql.placeholder('throttle')}::text, clock_timestamp() + ${step}
      from m where ${sql.placeholder('reserve')}::boolean and m.status = 'queued'
      on conflict (name) do update
        set next_slot_at = greatest(${throttles}.next_slot_at, clock_timestamp()) + ${step}
      returning next_slot_at - ${step} as slot)
    select m.*, (select slot from reserved) as slot from m`;
});

const dateOrNull = (v: unknown) => (v == null ? null : new Date(v as string));

export async function findOutboundForSendReserving(
  db: DbOrTx,
  id: string,
  reserve: { throttle: string; intervalMs: number } | null,
) {
  const [r] = await outboundForSendReserving(db).execute({
    id,
    reserve: reserve !== null,
    throttle: reserve?.throttle ?? '',
    micros: stepMicros(reserve?.intervalMs ?? 0),
  });
  if (!r) return { msg: null, slot: null };
  const msg: SendRow = {
    id: r.id as string,
    conversationId: r.conversation_id as string,
    body: r.body as string | null,
    type: r.type as MessageType,
    status: r.status as MessageStatus,
    replyGroup: r.reply_group as string | null,
    partIndex: r.part_index as number,
    providerMessageId: r.provider_message_id as string | null,
    gatewayMessageId: r.gateway_message_id as string | null,
    campaignId: r.campaign_id as string | null,
    author: r.author as Author,
    updatedAt: new Date(r.updated_at as string),
    contactId: r.contact_id as string,
    phone: r.phone as string,
    channel: r.channel as SendRow['channel'],
    lastInboundAt: dateOrNull(r.last_inbound_at),
    cloudTemplate: r.cloud_template as SendRow['cloudTemplate'],
  };
  return { msg, slot: dateOrNull(r.slot) };
}

type SendRow = NonNullable<Awaited<ReturnType<typeof findOutboundForSend>>>;

/**
 * Claims a queued message for sending (queued → pending): 'claimed', or null when another worker has
 * it or it is no longer queued. A bot message written before a person took its conversation over is
 * withdrawn here instead ('withdrawn': failed with that reason), whatever path left it queued: the
 * owner is read under the same statement as the claim, so no bot part written before a takeover
 * reaches the gateway after it. Messages written after the owner change (the handoff notice, an
 * opt-out confirmation) go out. Both times are the database's (`owner_since` and `created_at` are
 * transaction times), so clocks of other hosts do not matter.
 */
const claim = builtOnce((db) => {
  const stale = sql`(${messages.author} = 'bot' and exists (
    select 1 from ${conversations} c
    where c.id = ${messages.conversationId} and c.owner = 'human'
      and date_trunc('milliseconds', c.owner_since) > ${messages.createdAt}))`;
  return db
    .update(messages)
    .set({
      status: sql`case when ${stale} then 'failed' else 'pending' end`,
      error: sql`case when ${stale} then ${WITHDRAWN_AFTER_TAKEOVER} else ${messages.error} end`,
      updatedAt: sql`now()`,
    })
    .where(and(eq(messages.id, sql.placeholder('id')), eq(messages.status, 'queued')))
    .returning({ status: messages.status });
});

export async function claimForSend(db: DbOrTx, id: string): Promise<'claimed' | 'withdrawn' | null> {
  const [row] = await claim(db).execute({ id });
  if (!row) return null;
  return row.status === 'pending' ? 'claimed' : 'withdrawn';
}

/**
 * The gateway accepted the message: it is sent, unless a status webhook moved it further already.
 * A failure of our own attempt with an unknown outcome (interrupted) is corrected to sent; a failure
 * the gateway reported is not. When the message is sent afterwards, its `message.status` event is
 * recorded in the same statement (with the notification `recordEvents` sends). Returns the row's
 * status afterwards and, read in the same statement, what recording the send needs next: whether
 * statuses for the gateway id came before it (`earlyKept`: they are applied with `takeEarlyStatuses`)
 * and the reply's next queued part (`nextPartId`, as `nextPart` reads it).
 *
 * With `alone`, the statement is the whole record of the send, outside any transaction: it changes
 * nothing when early statuses wait for the gateway id (the caller then records the send in a
 * transaction that applies them), and it enqueues the next part's send job itself.
 */
const sentWithEvent = rawOnce<
  Array<{ status: MessageStatus | null; earlyKept: boolean; nextPartId: string | null }>
>(() => {
  const gatewayId = sql`${sql.placeholder('gatewayMessageId')}::text`;
  const alone = sql`${sql.placeholder('alone')}::boolean`;
  return sql`with early as (
      select (${gatewayId} is not null and exists (
        select 1 from ${earlyStatuses} e where e.gateway_message_id = ${gatewayId})) as kept
    ),
    m as (
      update ${messages} set
        gateway_message_id = coalesce(${gatewayId}, gateway_message_id),
        sent_at = coalesce(sent_at, ${sql.placeholder('at')}::timestamptz),
        status = case when ${advanceGuard('sent')} then 'sent' else status end,
        error = case when ${advanceGuard('sent')} then null else error end,
        updated_at = ${sql.placeholder('now')}::timestamptz
      where id = ${sql.placeholder('id')}::uuid and not (${alone} and (select kept from early))
      returning id, conversation_id, status,
        (select n.id from ${messages} n
          where n.reply_group = "messages"."reply_group" and n.part_index > "messages"."part_index"
            and n.status = 'queued'
          order by n.part_index limit 1) as next_part_id),
    event as (
      insert into ${events} (type, conversation_id, payload)
      select 'message.status', m.conversation_id, jsonb_build_object(
        'type', 'message.status', 'conversationId', m.conversation_id, 'messageId', m.id, 'status', 'sent')
      from m where m.status = 'sent'
      returning id),
    next_job as (${enqueueJobsSql(
      QUEUE_SEND,
      sql`select jsonb_build_object('messageId', next_part_id) as data,
          now() + ${sql.placeholder('nextDelayMs')}::int * interval '1 millisecond' as start_after
        from m where ${alone} and next_part_id is not null`,
    )})
    select m.status, e.kept as "earlyKept", m.next_part_id as "nextPartId",
      (select count(*) from next_job) as scheduled,
      (select pg_notify(${EVENTS_CHANNEL}, max(id)::text) from event having count(*) > 0) as notified
    from early e left join m on true`;
});

/** Records an accepted send inside the caller's transaction (see `sentWithEvent`); null: no such message. */
export async function markSent(db: DbOrTx, id: string, gatewayMessageId: string | null, at: Date) {
  const [row] = await sentWithEvent(db).execute({
    id,
    gatewayMessageId,
    at: at.toISOString(),
    now: nowText(),
    alone: false,
    nextDelayMs: 0,
  });
  return row?.status ? { status: row.status, earlyKept: row.earlyKept, nextPartId: row.nextPartId } : null;
}

/**
 * Records an accepted send in one statement of its own, the next part's job (due after
 * `nextDelayMs`) included: 'recorded', or 'early-statuses' when statuses for the gateway id came
 * first, or null when there is no such message (nothing is changed in either case).
 */
export async function markSentAlone(
  db: Db,
  id: string,
  gatewayMessageId: string | null,
  at: Date,
  nextDelayMs: number,
): Promise<'recorded' | 'early-statuses' | null> {
  const [row] = await sentWithEvent(db as DbOrTx).execute({
    id,
    gatewayMessageId,
    at: at.toISOString(),
    now: nowText(),
    alone: true,
    nextDelayMs: Math.max(0, Math.round(nextDelayMs)),
  });
  // The next part's job joins the send queue's row, which exists: this part's own job came from it.
  if (row?.status) return 'recorded';
  return row?.earlyKept ? 'early-statuses' : null;
}

/**
 * Nothing went out (rate limit, an error that says so): a claimed message waits in the queue again,
 * unless a person took its conversation over while it was at the gateway (see
 * `withdrawQueuedBotMessages`): then it is failed with that reason instead. Returns the status it
 * has afterwards (null: it was no longer pending).
 */
const requeued = builtOnce((db) => {
  const withdrawn = sql`${messages.error} is not distinct from ${WITHDRAWN_AFTER_TAKEOVER}`;
  return db
    .update(messages)
    .set({
      status: sql`case when ${withdrawn} then 'failed' else 'queued' end`,
      error: sql`case when ${withdrawn} then ${messages.error} else null end`,
      updatedAt: sql`${sql.placeholder('now')}::timestamptz`,
    })
    .where(and(eq(messages.id, sql.placeholder('id')), eq(messages.status, 'pending')))
    .returning({ status: messages.status });
});

export async function requeue(db: DbOrTx, id: string) {
  const [row] = await requeued(db).execute({ id, now: nowText() });
  return row?.status ?? null;
}

/** No gateway credentials: a message not yet sent is kept as not_configured. */
const notConfigured = builtOnce((db) =>
  db
    .update(messages)
    .set({
      status: 'not_configured',
      error: sql`${sql.placeholder('error')}`,
      updatedAt: sql`${sql.placeholder('now')}::timestamptz`,
    })
    .where(and(eq(messages.id, sql.placeholder('id')), inArray(messages.status, ['queued', 'pending']))),
);

export async function markNotConfigured(db: DbOrTx, id: string, error: string) {
  await notConfigured(db).execute({ id, error, now: nowText() });
}

/**
 * Our send attempt failed (or its outcome is unknown): only a message not yet sent moves to failed,
 * so a late timeout never undoes a receipt. Returns whether it moved.
 */
/** Why a withdrawn bot message was not sent. */
export const WITHDRAWN_AFTER_TAKEOVER = 'Not sent: a person took over the conversation before it went out';

/**
 * Withdraws the bot's messages of a conversation still waiting to be sent (the later parts of a
 * split reply, usually), when a person takes the conversation over: they are marked failed with
 * the reason and never claimed. A part already at the gateway (pending) is left to finish, carrying
 * the reason: if the gateway turns it away without sending it, it is failed, not queued again.
 */
export async function withdrawQueuedBotMessages(db: DbOrTx, conversationId: string) {
  const ofTheBot = (status: MessageStatus) =>
    and(eq(messages.conversationId, conversationId), eq(messages.author, 'bot'), eq(messages.status, status));
  const withdrawn = await db
    .update(messages)
    .set({ status: 'failed', error: WITHDRAWN_AFTER_TAKEOVER })
    .where(ofTheBot('queued'))
    .returning({ id: messages.id });
  await db.update(messages).set({ error: WITHDRAWN_AFTER_TAKEOVER }).where(ofTheBot('pending'));
  return withdrawn;
}

const sendFailed = builtOnce((db) =>
  db
    .update(messages)
    .set({
      status: 'failed',
      error: sql`${sql.placeholder('error')}`,
      updatedAt: sql`${sql.placeholder('now')}::timestamptz`,
    })
    .where(and(eq(messages.id, sql.placeholder('id')), inArray(messages.status, ['queued', 'pending'])))
    .returning({ id: messages.id }),
);

export async function markSendFailed(db: DbOrTx, id: string, error: string) {
  const [row] = await sendFailed(db).execute({ id, error: error.slice(0, 500), now: nowText() });
  return row !== undefined;
}

/**
 * Whether the send queue moves: conversation messages `queued` for longer than `stalledAfterMs` (a
 * live one is sent, or rescheduled, well before), and the gateway throttle's next free slot when it
 * lies further ahead than `blockedBeyondMs`.
 */
export async function sendQueueHealth(
  db: DbOrTx,
  p: { throttle: string; stalledAfterMs: number; blockedBeyondMs: number },
) {
  const ms = (n: number) => sql.raw(`interval '${Math.max(0, Math.round(n))} milliseconds'`);
  const [row] = await db.execute<{
    stalled: number;
    oldest: string | Date | null;
    blocked: string | Date | null;
  }>(sql`
    select
      (select count(*)::int from ${messages} m
        where m.status = 'queued' and m.campaign_id is null
          and m.created_at < now() - ${ms(p.stalledAfterMs)}) as stalled,
      (select min(m.created_at) from ${messages} m
        where m.status = 'queued' and m.campaign_id is null
          and m.created_at < now() - ${ms(p.stalledAfterMs)}) as oldest,
      (select t.next_slot_at from ${throttles} t
        where t.name = ${p.throttle} and t.next_slot_at > now() + ${ms(p.blockedBeyondMs)}) as blocked`);
  const date = (v: string | Date | null | undefined) => (v == null ? null : new Date(v));
  return {
    stalled: Number(row?.stalled ?? 0),
    oldestQueuedAt: date(row?.oldest),
    blockedUntil: date(row?.blocked),
  };
}

const firstQueuedPartAfter = builtOnce((db) =>
  db
    .select({ id: messages.id })
    .from(messages)
    .where(
      and(
        eq(messages.replyGroup, sql.placeholder('replyGroup')),
        gt(messages.partIndex, sql.placeholder('afterIndex')),
        eq(messages.status, 'queued'),
      ),
    )
    .orderBy(asc(messages.partIndex))
    .limit(1),
);

export async function nextPart(db: DbOrTx, replyGroup: string, afterIndex: number) {
  const [row] = await firstQueuedPartAfter(db).execute({ replyGroup, afterIndex });
  return row ?? null;
}

/** Marks the remaining parts of a reply as failed after an earlier part failed for good. */
export async function failRemainingParts(db: DbOrTx, replyGroup: string, afterIndex: number, error: string) {
  await db
    .update(messages)
    .set({ status: 'failed', error })
    .where(
      and(
        eq(messages.replyGroup, replyGroup),
        gt(messages.partIndex, afterIndex),
        eq(messages.status, 'queued'),
      ),
    );
}

/** The bodies of a conversation's latest inbound messages that have text, newest first. */
export async function latestInboundTexts(
  db: DbOrTx,
  conversationId: string,
  limit: number,
): Promise<string[]> {
  const rows = await db
    .select({ body: messages.body })
    .from(messages)
    .where(
      and(
        eq(messages.conversationId, conversationId),
        eq(messages.direction, 'inbound'),
        isNotNull(messages.body),
      ),
    )
    .orderBy(desc(messages.createdAt), desc(messages.id))
    .limit(limit);
  return rows.map((r) => r.body ?? '').filter((b) => b.trim().length > 0);
}

/** Statuses of the messages a prompt's history shows (failed and unsent ones are left out). */
const HISTORY_STATUSES = ['received', 'sent', 'delivered', 'read', 'played', 'queued', 'pending'];

/**
 * The latest messages of a conversation before a point, newest first, as one JSON column (`history`)
 * of a select: `[{ author, direction, body, type }]`. Read it with `parseHistory`.
 */
export function historyColumn(p: { conversationId: SQL; before: SQL; limit: SQL }) {
  const statuses = sql.join(
    HISTORY_STATUSES.map((s) => sql.raw(`'${s}'`)),
    sql`, `,
  );
  return sql`(select coalesce(json_agg(json_build_object('author', h.author, 'direction', h.direction,
        'body', h.body, 'type', h.type) order by h.created_at desc, h.id desc), '[]')
      from (select author, direction, body, type, created_at, id from messages
        where conversation_id = ${p.conversationId} and created_at < ${p.before} and status in (${statuses})
        order by created_at desc, id desc
        limit ${p.limit}) h) as history`;
}

export type HistoryMessage = {
  author: Author;
  direction: 'inbound' | 'outbound';
  body: string | null;
  type: MessageType;
};

/** The messages of `historyColumn`. */
export const parseHistory = (raw: unknown) => jsonList<HistoryMessage>(raw);

/**
 * Keeps a delivery status about a message not known yet (see `early_statuses`); rows older than a
 * day are pruned on the way: their message is not ours, or its send response never came.
 */
export async function keepEarlyStatus(
  db: DbOrTx,
  row: {
    providerMessageId: string | null;
    gatewayMessageId: string | null;
    status: MessageStatus;
    error: string | null;
  },
) {
  await db.delete(earlyStatuses).where(lt(earlyStatuses.receivedAt, sql`now() - interval '1 day'`));
  await db.insert(earlyStatuses).values(row);
}

/** The statement taking early statuses by either id, by one of them, or by both. */
const takeEarly = {
  provider: takeEarlyBy('provider'),
  gateway: takeEarlyBy('gateway'),
  both: takeEarlyBy('both'),
};
function takeEarlyBy(by: 'provider' | 'gateway' | 'both') {
  return builtOnce((db) => {
    const provider = eq(earlyStatuses.providerMessageId, sql.placeholder('providerMessageId'));
    const gateway = eq(earlyStatuses.gatewayMessageId, sql.placeholder('gatewayMessageId'));
    return db
      .delete(earlyStatuses)
      .where(by === 'both' ? or(provider, gateway) : by === 'provider' ? provider : gateway)
      .returning({
        providerMessageId: earlyStatuses.providerMessageId,
        gatewayMessageId: earlyStatuses.gatewayMessageId,
        status: earlyStatuses.status,
        error: earlyStatuses.error,
        receivedAt: earlyStatuses.receivedAt,
      });
  });
}

/** Takes (deletes and returns, oldest first) the statuses kept for a message known by these ids. */
export async function takeEarlyStatuses(
  db: DbOrTx,
  ids: { providerMessageId: string | null; gatewayMessageId: string | null },
) {
  const { providerMessageId, gatewayMessageId } = ids;
  if (!providerMessageId && !gatewayMessageId) return [];
  const by = providerMessageId && gatewayMessageId ? 'both' : providerMessageId ? 'provider' : 'gateway';
  const rows = await takeEarly[by](db).execute({ providerMessageId, gatewayMessageId });
  return rows.sort((a, b) => a.receivedAt.getTime() - b.receivedAt.getTime());
}

/** The gateway id (msgId) an early status links to a WhatsApp id, when one was kept with both. */
export async function earlyGatewayIdFor(db: DbOrTx, providerMessageId: string) {
  const [row] = await db
    .select({ gatewayMessageId: earlyStatuses.gatewayMessageId })
    .from(earlyStatuses)
    .where(
      and(eq(earlyStatuses.providerMessageId, providerMessageId), isNotNull(earlyStatuses.gatewayMessageId)),
    )
    .limit(1);
  return row?.gatewayMessageId ?? null;
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
  /** The gateway it came through (default WaSender): the conversation lives there from now on. */
  channel?: 'wasender' | 'whatsapp-cloud';
  /** The attachment to download (a `message_media` row and a media job are added with the message). */
  media?: InboundMediaToStore | null;
  /** A location or contact card, stored on the message. */
  card?: Record<string, unknown> | null;
}

export interface InboundMediaToStore {
  kind: 'image' | 'audio' | 'video' | 'document' | 'sticker';
  mimeType: string | null;
  fileName: string | null;
  declaredBytes: number | null;
  voice: boolean;
  handle: Record<string, unknown>;
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
 * logged (with one notification for the batch) and the reply job enqueued. A resolved or snoozed
 * conversation opens again (with its `conversation.status` event), and a customer writing to a
 * conversation a person owns starts waiting for that person (see server/conversation/inbox.ts). A statement commits
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
        ${text('providerMessageId')}, ${text('type')}, ${text('body')}, ${text('preview')}, ${sql.placeholder('quietMs')}::int[],
        ${text('channel')}, ${text('media')}, ${text('card')})
        as i (ord, phone, lid, push_name, provider_id, type, body, preview, quiet_ms, channel, media, card)
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
      insert into conversations (contact_id, last_message_at, last_inbound_at, last_message_preview, unread_count,
        channel)
      select id, last_at, last_at, preview, n, channel from (
        select c.id, ((now() + (count(*) - 1) * interval '1 millisecond')::timestamptz(3)) as last_at,
          (array_agg(f.preview order by f.ord desc))[1] as preview, count(*) as n,
          (array_agg(f.channel order by f.ord desc))[1] as channel
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
      insert into messages (conversation_id, provider_message_id, type, body, card, author, direction, status, created_at)
      select v.id, f.provider_id, f.type, f.body, f.card::jsonb, 'contact', 'inbound', 'received',
        greatest(now(), v.last_message_at + interval '1 millisecond')
          + (row_number() over (partition by v.id order by f.ord) - 1) * interval '1 millisecond'
      from conversation v join fresh f using (ord)
      order by f.ord
      on conflict (provider_message_id) do nothing
      returning id, conversation_id, provider_message_id, created_at
    ),
    stored as (
      select f.ord, f.phone, f.lid, f.push_name, f.preview, f.quiet_ms, f.channel, f.media::jsonb as media,
        v.contact_id, m.conversation_id, m.id, m.created_at
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
        last_message_preview = s.preview, unread_count = v.unread_count + s.n, updated_at = now(),
        channel = s.channel,
        status = case when o.status in ('resolved', 'snoozed') then 'open' else o.status end,
        snoozed_until = case when o.status in ('resolved', 'snoozed') then null else o.snoozed_until end,
        waiting_since = case when o.owner = 'human' then coalesce(o.waiting_since, s.first_at) else o.waiting_since end,
        turn_started_at = case when o.owner = 'human' then coalesce(o.turn_started_at, s.first_at) else o.turn_started_at end
      from (select conversation_id, count(*)::int as n, max(created_at) as created_at, min(created_at) as first_at,
          (array_agg(preview order by ord desc))[1] as preview,
          (array_agg(channel order by ord desc))[1] as channel
        from stored group by conversation_id) s, conversations o
      where v.id = s.conversation_id and o.id = s.conversation_id
      returning v.id, o.status as was
    ),
    status_event as (
      insert into events (type, conversation_id, payload)
      select 'conversation.status', id, jsonb_build_object('type', 'conversation.status',
        'conversationId', id, 'status', 'open', 'snoozedUntil', null)
      from touch_conversation where was in ('resolved', 'snoozed')
      returning id
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
    media_row as (
      insert into message_media (message_id, kind, mime_type, file_name, declared_bytes, voice, handle)
      select id, media->>'kind', media->>'mimeType', media->>'fileName', (media->>'declaredBytes')::bigint,
        coalesce((media->>'voice')::boolean, false), media->'handle'
      from stored where media is not null
      returning id
    ),
    media_job as (${enqueueJobsSql(
      QUEUE_MEDIA,
      sql`select jsonb_build_object('mediaId', id) as data, now() as start_after from media_row`,
    )}),
    notified as (
      select pg_notify(${EVENTS_CHANNEL}::text, max(id)::text)
      from (select id from event union all select id from status_event) e having count(*) > 0
    )
    select i.ord, s.id as message_id, s.conversation_id,
      i.provider_id not in (select provider_id from fresh) as duplicate,
      i.ord in (select ord from contact) as contact_found,
      (select count(*) from notified) as notified
    from input i left join stored s using (ord)
    order by i.ord`;
}

/** The inbound statement, rendered once (the reply queue's name is the same on every call). */
const renderedInbound = once((replyQueue: string) =>
  new PgDialect().sqlToQuery(inboundStatement(replyQueue)),
);

/** Stores a batch of inbound messages (see `inboundStatement`); results in the order given. */
export async function storeInboundMessages(
  db: Db,
  replyQueue: string,
  batch: InboundToStore[],
): Promise<StoreInboundResult[]> {
  const q = renderedInbound(replyQueue);
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
    channel: batch.map((m) => m.channel ?? 'wasender'),
    media: batch.map((m) => (m.media ? JSON.stringify(m.media) : null)),
    card: batch.map((m) => (m.card ? JSON.stringify(m.card) : null)),
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
