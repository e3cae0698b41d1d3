import { and, desc, eq, inArray, ne, type SQL, sql } from 'drizzle-orm';
import {
  type CampaignAttachment,
  campaignRecipients,
  campaigns,
  contacts,
  conversations,
  type MessageStatus,
  messageMedia,
  messages,
  type RecipientStatus,
  throttles,
} from '../../../drizzle';
import type { Db, DbOrTx, Tx } from '../types';
import { throttleStep } from './throttles';

/**
 * What the campaign dispatcher and the webhook path do to campaigns and their recipients: the
 * dispatcher's lease, claims, outcomes, recovery after a crash, and delivery statuses and replies.
 */

/* ------------------------------------------------------------ dispatch */

/** What the dispatcher reads of its campaign on every step. */
const dispatchColumns = {
  id: campaigns.id,
  status: campaigns.status,
  template: campaigns.template,
  cloudTemplate: campaigns.cloudTemplate,
  attachment: campaigns.attachment,
  variableDefaults: campaigns.variableDefaults,
  ratePerMinute: campaigns.ratePerMinute,
  jitterPercent: campaigns.jitterPercent,
  failureWindow: campaigns.failureWindow,
  failureThresholdPercent: campaigns.failureThresholdPercent,
  pausedAt: campaigns.pausedAt,
};

/**
 * Takes (or keeps) the right to dispatch a running campaign: free, expired, or already this owner's.
 * Null when another dispatcher holds it or the campaign is not running.
 */
export async function acquireLease(db: DbOrTx, id: string, owner: string, seconds: number) {
  const [row] = await db
    .update(campaigns)
    .set({ leaseOwner: owner, leaseUntil: sql`clock_timestamp() + make_interval(secs => ${seconds})` })
    .where(
      and(
        eq(campaigns.id, id),
        eq(campaigns.status, 'running'),
        sql`(${campaigns.leaseOwner} = ${owner} or ${campaigns.leaseUntil} is null or ${campaigns.leaseUntil} < clock_timestamp())`,
      ),
    )
    .returning(dispatchColumns);
  return row ?? null;
}
export type DispatchCampaign = NonNullable<Awaited<ReturnType<typeof acquireLease>>>;

/** Extends the lease and reads the campaign; null when the lease was lost to another dispatcher. */
export async function renewLease(db: DbOrTx, id: string, owner: string, seconds: number) {
  const [row] = await db
    .update(campaigns)
    .set({ leaseUntil: sql`clock_timestamp() + make_interval(secs => ${seconds})` })
    .where(and(eq(campaigns.id, id), eq(campaigns.leaseOwner, owner)))
    .returning(dispatchColumns);
  return row ?? null;
}

export async function releaseLease(db: DbOrTx, id: string, owner: string) {
  await db
    .update(campaigns)
    .set({ leaseOwner: null, leaseUntil: null })
    .where(and(eq(campaigns.id, id), eq(campaigns.leaseOwner, owner)));
}

/** Scheduled campaigns whose time has come become running; returns their ids. */
export async function startDueScheduled(db: DbOrTx, id?: string) {
  const rows = await db
    .update(campaigns)
    .set({ status: 'running', startedAt: sql`coalesce(${campaigns.startedAt}, now())` })
    .where(
      and(
        eq(campaigns.status, 'scheduled'),
        sql`${campaigns.scheduledAt} <= now()`,
        id ? eq(campaigns.id, id) : undefined,
      ),
    )
    .returning({ id: campaigns.id });
  return rows.map((r) => r.id);
}

/** Running campaigns nobody dispatches (never picked up, or their dispatcher died). */
export async function runningWithoutDispatcher(db: DbOrTx) {
  const rows = await db
    .select({ id: campaigns.id })
    .from(campaigns)
    .where(
      and(
        eq(campaigns.status, 'running'),
        sql`(${campaigns.leaseUntil} is null or ${campaigns.leaseUntil} < clock_timestamp())`,
      ),
    )
    .limit(1000);
  return rows.map((r) => r.id);
}

const epochMs = (value: SQL) => sql`(extract(epoch from ${value}) * 1000)::float8`;

/** The contact's fields a campaign template can use (see campaigns/template.ts). */
export type ContactFields = {
  phone: string;
  name: string | null;
  pushName: string | null;
  email: string | null;
  company: string | null;
  position: string | null;
  leadStatus: string;
  source: string;
  tags: string[];
};

/** A pending recipient with the contact fields its message is rendered from. */
export type PendingRecipient = { id: string; variables: Record<string, string> } & ContactFields;

/** The next pending recipients in send order (read without locks; each is claimed on its own). */
export async function peekPending(
  db: DbOrTx,
  campaignId: string,
  limit: number,
): Promise<PendingRecipient[]> {
  const rows = await db.execute<PendingRecipient>(sql`
    select r.id as "id", r.variables as "variables", c.phone as "phone", c.name as "name",
           c.push_name as "pushName", c.email as "email", c.company as "company", c.position as "position",
           c.lead_status as "leadStatus", c.source as "source", c.tags as "tags"
    from ${campaignRecipients} r
    join ${contacts} c on c.id = r.contact_id
    where r.campaign_id = ${campaignId} and r.status = 'pending'
    order by r.position
    limit ${limit}`);
  return [...rows];
}

export type ClaimResult =
  /** Claimed, with its message in flight: send it at `slot` (epoch ms), the gateway slot it holds. */
  | { kind: 'claimed'; messageId: string; conversationId: string; attempts: number; slot: number }
  /** Its contact opted out or was deleted (checked now): recorded as skipped. */
  | { kind: 'skipped' }
  /** Someone is queued for the gateway: try again at `retryAt` (epoch ms). */
  | { kind: 'gateway-busy'; retryAt: number }
  /** No longer pending, locked by another dispatcher, or the campaign is not running. */
  | { kind: 'gone' };

/**
 * Claims one recipient for a send, in one statement (so all of it is stored or none):
 * - the recipient, if still pending and its campaign running, is locked (SKIP LOCKED: another
 *   dispatcher moves on) and its contact checked at send time: opted out or deleted → `skipped`;
 * - otherwise a slot of the global gateway throttle is taken, but only when nobody is queued for it
 *   (its next slot is due within `toleranceMs`): conversation replies reserve unconditionally, so a
 *   running campaign stands back while they wait;
 * - the recipient moves to `sending`, its contact's conversation is upserted, and its message row is
 *   stored in flight (`pending`): a new one, or the row of an earlier try that never reached the
 *   gateway (`queued`).
 */
export async function claimForSend(
  db: DbOrTx,
  p: {
    campaignId: string;
    recipientId: string;
    text: string;
    newMessageId: string;
    /** The campaign's file: the message becomes a media message with its own row pointing at it. */
    attachment: CampaignAttachment | null;
    gateway: string;
    gatewayIntervalMs: number;
    toleranceMs: number;
  },
): Promise<ClaimResult> {
  const step = throttleStep(p.gatewayIntervalMs);
  const tolerance = throttleStep(p.toleranceMs);
  const a = p.attachment;
  const rows = await db.execute<{
    status: 'sending' | 'skipped' | null;
    messageId: string | null;
    conversationId: string | null;
    attempts: number | null;
    slot: number | null;
    gatewayNext: number | null;
    targeted: number;
  }>(sql`
    with target as (
      select r.id, r.contact_id, r.message_id,
             (c.deleted_at is not null) as deleted, (c.opted_out_at is not null) as opted_out,
             (select m.status = 'queued' from ${messages} m where m.id = r.message_id) as reusable
      from ${campaignRecipients} r
      join ${contacts} c on c.id = r.contact_id
      where r.id = ${p.recipientId} and r.campaign_id = ${p.campaignId} and r.status = 'pending'
        and exists (select 1 from ${campaigns} k where k.id = ${p.campaignId} and k.status = 'running')
      for update of r skip locked
    ), gate as (
      update ${throttles} set next_slot_at = greatest(next_slot_at, clock_timestamp()) + ${step}
      where name = ${p.gateway} and next_slot_at <= clock_timestamp() + ${tolerance}
        and exists (select 1 from target where not deleted and not opted_out)
      returning next_slot_at - ${step} as slot
    ), claimed as (
      update ${campaignRecipients} r set
        status = case when t.deleted or t.opted_out then 'skipped' else 'sending' end,
        claimed_at = now(),
        attempts = r.attempts + case when t.deleted or t.opted_out then 0 else 1 end,
        error_code = case when t.deleted then 'contact_deleted' when t.opted_out then 'opted_out' else r.error_code end,
        error = case when t.deleted then 'The contact was deleted'
                     when t.opted_out then 'The contact opted out of messages' else r.error end,
        finished_at = case when t.deleted or t.opted_out then now() end,
        message_id = case when t.deleted or t.opted_out then r.message_id
                          when t.reusable then r.message_id else ${p.newMessageId}::uuid end,
        rendered_text = case when t.deleted or t.opted_out then r.rendered_text else ${p.text} end,
        updated_at = now()
      from target t
      where r.id = t.id and (t.deleted or t.opted_out or exists (select 1 from gate))
      returning r.id, r.status, r.contact_id, r.message_id, r.attempts, coalesce(t.reusable, false) as reusable
    ), conv as (
      insert into ${conversations} (contact_id)
      select contact_id from claimed where status = 'sending'
      on conflict (contact_id) do update set contact_id = excluded.contact_id
      returning id, contact_id
    ), reused as (
      update ${messages} m set status = 'pending', body = ${p.text}, type = ${a?.kind ?? 'text'}, error = null,
        updated_at = now()
      from claimed where m.id = claimed.message_id and claimed.status = 'sending' and claimed.reusable
      returning m.id
    ), created as (
      insert into ${messages}
        (id, conversation_id, direction, author, type, body, status, reply_group, part_index, campaign_id)
      select claimed.message_id, conv.id, 'outbound', 'campaign', ${a?.kind ?? 'text'}, ${p.text}, 'pending',
             claimed.message_id, 0, ${p.campaignId}::uuid
      from claimed join conv on conv.contact_id = claimed.contact_id
      where claimed.status = 'sending' and not claimed.reusable
      returning id
    ), media as (
      insert into ${messageMedia} (message_id, kind, mime_type, file_name, bytes, sha256, storage_key, status)
      select created.id, ${a?.kind ?? null}, ${a?.mimeType ?? null}, ${a?.fileName ?? null},
             ${a?.bytes ?? null}::bigint, ${a?.sha256 ?? null}, ${a?.storageKey ?? null}, 'stored'
      from (select id from created union all select id from reused) as created where ${a !== null}
      on conflict (message_id) do nothing
    )
    select claimed.status as "status", claimed.message_id as "messageId", conv.id as "conversationId",
           claimed.attempts as "attempts",
           (select ${epochMs(sql`slot`)} from gate) as "slot",
           (select ${epochMs(sql`next_slot_at - ${tolerance}`)} from ${throttles} where name = ${p.gateway}) as "gatewayNext",
           (select count(*) from target)::int as "targeted"
    from (select 1) as one
    left join claimed on true
    left join conv on conv.contact_id = claimed.contact_id`);
  const row = rows[0]!;
  if (row.status === 'skipped') return { kind: 'skipped' };
  if (row.status === 'sending' && row.messageId && row.conversationId && row.slot !== null) {
    return {
      kind: 'claimed',
      messageId: row.messageId,
      conversationId: row.conversationId,
      attempts: Number(row.attempts),
      slot: Number(row.slot),
    };
  }
  if (row.targeted > 0 && row.gatewayNext !== null)
    return { kind: 'gateway-busy', retryAt: Number(row.gatewayNext) };
  return { kind: 'gone' };
}

/**
 * A recipient's message goes as a Cloud template (outside the 24-hour window), which carries no file:
 * its media row is dropped so the conversation shows what was sent.
 */
export async function dropAttachment(db: DbOrTx, messageId: string) {
  await db.execute(sql`
    with gone as (delete from ${messageMedia} where message_id = ${messageId})
    update ${messages} set type = 'text', updated_at = now() where id = ${messageId}`);
}

/**
 * The gateway accepted the message: message and recipient are marked sent together. A status webhook
 * may have moved either further already; neither is moved back (a failure the gateway reported
 * stays; one of our own with an unknown outcome, never sent, is corrected).
 */
export async function recordSent(
  db: DbOrTx,
  p: { recipientId: string; messageId: string; gatewayMessageId: string | null; at: Date },
) {
  const at = sql`${p.at.toISOString()}::timestamptz`;
  await db.execute(sql`
    with m as (
      update ${messages} set gateway_message_id = coalesce(${p.gatewayMessageId}, gateway_message_id),
        sent_at = coalesce(sent_at, ${at}), updated_at = now(),
        status = case when status in ('pending', 'queued') or (status = 'failed' and sent_at is null)
          then 'sent' else status end,
        error = case when status in ('pending', 'queued') or (status = 'failed' and sent_at is null)
          then null else error end
      where id = ${p.messageId}
      returning id
    )
    update ${campaignRecipients} set
      status = case when status in ('sending', 'pending', 'failed') then 'sent' else status end,
      sent_at = coalesce(sent_at, ${at}), finished_at = coalesce(finished_at, ${at}),
      error = null, error_code = null, updated_at = now()
    where id = ${p.recipientId}`);
}

/** The send failed for good (or its outcome is unknown): message and recipient are marked failed together. */
export async function recordFailed(
  db: DbOrTx,
  p: { recipientId: string; messageId: string; code: string; error: string },
) {
  const error = p.error.slice(0, 500);
  await db.execute(sql`
    with m as (
      update ${messages} set status = 'failed', error = ${error}, updated_at = now()
      where id = ${p.messageId} and status in ('pending', 'queued')
      returning id
    )
    update ${campaignRecipients} set status = 'failed', error_code = ${p.code}, error = ${error},
      finished_at = now(), updated_at = now()
    where id = ${p.recipientId} and status = 'sending'`);
}

/**
 * Nothing was sent (rate limited, gateway error that says so): the recipient goes back to pending and
 * its message row waits (`queued`) for the next try. A rate-limited try does not count as an attempt.
 */
export async function requeue(
  db: DbOrTx,
  p: { recipientId: string; messageId: string; countAttempt: boolean; error: string | null },
) {
  await db.execute(sql`
    with m as (
      update ${messages} set status = 'queued', updated_at = now() where id = ${p.messageId} and status = 'pending'
      returning id
    )
    update ${campaignRecipients} set status = 'pending', claimed_at = null, error = ${p.error?.slice(0, 500) ?? null},
      attempts = ${p.countAttempt ? sql`attempts` : sql`greatest(attempts - 1, 0)`}, updated_at = now()
    where id = ${p.recipientId} and status = 'sending'`);
}

/** A pending recipient fails without a send (its rendered message is unusable). */
export async function failUnsent(db: DbOrTx, id: string, code: string, error: string) {
  await db
    .update(campaignRecipients)
    .set({ status: 'failed', errorCode: code, error, finishedAt: sql`now()` })
    .where(and(eq(campaignRecipients.id, id), eq(campaignRecipients.status, 'pending')));
}

/** Runs `fn` in a transaction that does not wait for its commit to reach disk (for writes a crash may lose). */
export function withAsyncCommit<T>(db: Db, fn: (tx: Tx) => Promise<T>): Promise<T> {
  return db.transaction(async (tx) => {
    await tx.execute(sql`set local synchronous_commit to off`);
    return fn(tx);
  });
}

/**
 * Recipients caught mid-send by a crash: claimed longer ago than any live send can take.
 * - Without a message in flight (none attached yet, or an earlier try's still `queued`), nothing went to
 *   the gateway: they are pending again.
 * - With one in flight, it may or may not have reached the gateway, and the gateway has no idempotency
 *   key, so they are not sent again: they fail with code `unknown`, and their message too. If it did go
 *   out, the gateway's echo of it (webhook) corrects both to sent; `retryFailed` with includeUnknown
 *   sends them again on a person's decision.
 */
export async function failInterrupted(db: DbOrTx, olderThanMs: number, campaignId?: string) {
  const age = sql.raw(`interval '${Math.max(0, Math.round(olderThanMs))} milliseconds'`);
  const scope = campaignId ? sql`and r.campaign_id = ${campaignId}` : sql``;
  const error = 'Sending was interrupted: the message may or may not have arrived, so it was not sent again';
  const rows = await db.execute<{ id: string; campaignId: string; outcome: 'pending' | 'failed' }>(sql`
    with stale as (
      select r.id, r.message_id, (m.id is not null and m.status = 'pending') as in_flight
      from ${campaignRecipients} r
      left join ${messages} m on m.id = r.message_id
      where r.status = 'sending' and r.claimed_at < now() - ${age} ${scope}
      for update of r skip locked
    ), msgs as (
      update ${messages} m set status = 'failed', error = 'Sending was interrupted; delivery unknown', updated_at = now()
      from stale where m.id = stale.message_id and stale.in_flight
      returning m.id
    )
    update ${campaignRecipients} r set
      status = case when stale.in_flight then 'failed' else 'pending' end,
      error_code = case when stale.in_flight then 'unknown' else r.error_code end,
      error = case when stale.in_flight then ${error} else r.error end,
      finished_at = case when stale.in_flight then now() end,
      attempts = case when stale.in_flight then r.attempts else greatest(r.attempts - 1, 0) end,
      claimed_at = case when stale.in_flight then r.claimed_at end,
      updated_at = now()
    from stale where r.id = stale.id
    returning r.id as "id", r.campaign_id as "campaignId", r.status as "outcome"`);
  return [...rows];
}

/** Pending and in-flight recipients, and when the oldest in-flight one was claimed. */
export async function openCounts(db: DbOrTx, campaignId: string) {
  const r = campaignRecipients;
  const [row] = await db
    .select({
      pending: sql<number>`(count(*) filter (where ${r.status} = 'pending'))::int`,
      sending: sql<number>`(count(*) filter (where ${r.status} = 'sending'))::int`,
      oldestClaimMs: sql<
        number | null
      >`(extract(epoch from (now() - min(${r.claimedAt}) filter (where ${r.status} = 'sending'))) * 1000)::float8`,
    })
    .from(r)
    .where(and(eq(r.campaignId, campaignId), inArray(r.status, ['pending', 'sending'])));
  return row!;
}

/** Failed outcomes among the last `window` send outcomes since `since` (the last pause). */
export async function recentFailures(db: DbOrTx, campaignId: string, window: number, since: Date | null) {
  const r = campaignRecipients;
  const recent = db
    .select({ status: r.status })
    .from(r)
    .where(
      and(
        eq(r.campaignId, campaignId),
        sql`${r.finishedAt} is not null`,
        ne(r.status, 'skipped'),
        sql`(${r.errorCode} is null or ${r.errorCode} not in ('invalid_text', 'opted_out', 'contact_deleted', 'cancelled'))`,
        since ? sql`${r.finishedAt} > ${since.toISOString()}::timestamptz` : undefined,
      ),
    )
    .orderBy(desc(r.finishedAt))
    .limit(window)
    .as('recent');
  const [row] = await db
    .select({
      outcomes: sql<number>`count(*)::int`,
      failed: sql<number>`(count(*) filter (where ${recent.status} = 'failed'))::int`,
    })
    .from(recent);
  return row!;
}

/** Running with nothing pending or in flight → completed. Returns whether it completed now. */
export async function completeIfDone(db: DbOrTx, id: string) {
  const rows = await db
    .update(campaigns)
    .set({ status: 'completed', completedAt: sql`now()`, leaseOwner: null, leaseUntil: null })
    .where(
      and(
        eq(campaigns.id, id),
        eq(campaigns.status, 'running'),
        sql`not exists (select 1 from ${campaignRecipients} cr where cr.campaign_id = ${id} and cr.status in ('pending', 'sending'))`,
      ),
    )
    .returning({ id: campaigns.id });
  return rows.length > 0;
}

/* ------------------------------------------------- webhook-side updates */

const recipientRank = (column: SQL | typeof campaignRecipients.status) => sql`(case ${column}
  when 'pending' then 0 when 'sending' then 1 when 'sent' then 2 when 'delivered' then 3 when 'read' then 4 else 9 end)`;

const RECIPIENT_FOR_MESSAGE: Partial<Record<MessageStatus, RecipientStatus>> = {
  sent: 'sent',
  delivered: 'delivered',
  read: 'read',
  played: 'read',
  failed: 'failed',
};

/**
 * A campaign message's delivery status reached its recipient: forward only; `failed` only before
 * delivery; a recipient whose outcome was unknown (interrupted send) is corrected by any sign of
 * delivery.
 */
export async function advanceRecipientForMessage(
  db: DbOrTx,
  messageId: string,
  messageStatus: MessageStatus,
  error: string | null,
  at: Date,
) {
  const status = RECIPIENT_FOR_MESSAGE[messageStatus];
  if (!status) return false;
  const r = campaignRecipients;
  const atSql = sql`${at.toISOString()}::timestamptz`;
  const rows = await db
    .update(r)
    .set(
      status === 'failed'
        ? {
            status,
            errorCode: 'delivery_failed',
            error: (error ?? 'WhatsApp reported the message as failed').slice(0, 500),
            finishedAt: sql`coalesce(${r.finishedAt}, ${atSql})`,
          }
        : {
            status,
            sentAt: sql`coalesce(${r.sentAt}, ${atSql})`,
            finishedAt: sql`coalesce(${r.finishedAt}, ${atSql})`,
            error: sql`case when ${r.errorCode} = 'unknown' then null else ${r.error} end`,
            errorCode: sql`case when ${r.errorCode} = 'unknown' then null else ${r.errorCode} end`,
          },
    )
    .where(
      and(
        eq(r.messageId, messageId),
        status === 'failed'
          ? inArray(r.status, ['sending', 'sent'])
          : sql`(${recipientRank(r.status)} < ${recipientRank(sql`${status}::text`)} or (${r.status} = 'failed' and ${r.errorCode} = 'unknown'))`,
      ),
    )
    .returning({ id: r.id });
  return rows.length > 0;
}

export async function isRunning(db: DbOrTx, id: string) {
  const [row] = await db
    .select({ id: campaigns.id })
    .from(campaigns)
    .where(and(eq(campaigns.id, id), eq(campaigns.status, 'running')))
    .limit(1);
  return row !== undefined;
}

/** Running → paused with its reason (the dispatcher's auto-pause). Returns whether it paused now. */
export async function pauseRunning(db: DbOrTx, id: string, reason: string) {
  const rows = await db
    .update(campaigns)
    .set({ status: 'paused', pausedAt: sql`now()`, pausedReason: reason })
    .where(and(eq(campaigns.id, id), eq(campaigns.status, 'running')))
    .returning({ id: campaigns.id });
  return rows.length > 0;
}
