import { and, asc, desc, eq, inArray, ne, type SQL, sql } from 'drizzle-orm';
import {
  campaignRecipients,
  campaigns,
  contacts,
  type MessageStatus,
  messages,
  type RecipientStatus,
  throttles,
} from '../../../drizzle';
import type { DbOrTx } from '../types';

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

/**
 * Reserves a slot of a shared throttle only when nobody is queued for it: the bucket's next free slot
 * is at most `maxAheadMs` away. Conversation replies reserve unconditionally, so while they wait for
 * slots a campaign stands back. Returns the slot, or when the bucket will be free enough to try again.
 */
export async function reserveSlotIfFree(
  db: DbOrTx,
  name: string,
  intervalMs: number,
  maxAheadMs: number,
): Promise<{ slot: Date } | { retryAt: Date }> {
  await db.insert(throttles).values({ name }).onConflictDoNothing();
  const step = sql.raw(`interval '${Math.max(0, Math.round(intervalMs))} milliseconds'`);
  const ahead = sql.raw(`interval '${Math.max(0, Math.round(maxAheadMs))} milliseconds'`);
  const rows = await db.execute<{ slot: string | null; next: string }>(sql`
    with reserved as (
      update ${throttles}
      set next_slot_at = greatest(next_slot_at, clock_timestamp()) + ${step}
      where name = ${name} and next_slot_at <= clock_timestamp() + ${ahead}
      returning next_slot_at - ${step} as slot
    )
    select (select slot from reserved) as slot,
           (select next_slot_at - ${ahead} from ${throttles} where name = ${name}) as next`);
  const row = rows[0]!;
  return row.slot ? { slot: new Date(row.slot) } : { retryAt: new Date(row.next) };
}

export async function deleteThrottle(db: DbOrTx, name: string) {
  await db.delete(throttles).where(eq(throttles.name, name));
}

/**
 * The next pending recipient of a running campaign, locked for this transaction (other dispatchers
 * skip it), with what the send needs. Null when there is none or the campaign is no longer running.
 */
export async function claimNextRecipient(db: DbOrTx, campaignId: string) {
  const r = campaignRecipients;
  const [row] = await db
    .select({
      id: r.id,
      contactId: r.contactId,
      messageId: r.messageId,
      variables: r.variables,
      attempts: r.attempts,
      messageStatus: sql<MessageStatus | null>`(select ${messages.status} from ${messages} where ${messages.id} = ${r.messageId})`,
      phone: contacts.phone,
      name: contacts.name,
      pushName: contacts.pushName,
      email: contacts.email,
      company: contacts.company,
      position: contacts.position,
      leadStatus: contacts.leadStatus,
      source: contacts.source,
      tags: contacts.tags,
      optedOutAt: contacts.optedOutAt,
      deletedAt: contacts.deletedAt,
    })
    .from(r)
    .innerJoin(contacts, eq(contacts.id, r.contactId))
    .where(
      and(
        eq(r.campaignId, campaignId),
        eq(r.status, 'pending'),
        sql`exists (select 1 from ${campaigns} where ${campaigns.id} = ${campaignId} and ${campaigns.status} = 'running')`,
      ),
    )
    .orderBy(asc(r.position))
    .limit(1)
    .for('update', { of: r, skipLocked: true });
  return row ?? null;
}

/** A final outcome without a send: skipped (opted out, deleted) or failed before the gateway. */
export async function finishUnsent(
  db: DbOrTx,
  id: string,
  status: 'skipped' | 'failed',
  code: string,
  error: string,
) {
  await db
    .update(campaignRecipients)
    .set({ status, errorCode: code, error, finishedAt: sql`now()` })
    .where(eq(campaignRecipients.id, id));
}

/** The recipient's message is on its way to the gateway: from here on, its outcome must be recorded. */
export async function markSending(db: DbOrTx, id: string, messageId: string, text: string) {
  await db
    .update(campaignRecipients)
    .set({
      status: 'sending',
      messageId,
      renderedText: text,
      claimedAt: sql`now()`,
      attempts: sql`${campaignRecipients.attempts} + 1`,
    })
    .where(eq(campaignRecipients.id, id));
}

/**
 * The gateway accepted the message. A status webhook may have moved the recipient further already;
 * it is never moved back.
 */
export async function markRecipientSent(db: DbOrTx, id: string, at: Date) {
  await db
    .update(campaignRecipients)
    .set({
      status: sql`case when ${campaignRecipients.status} in ('sending', 'pending', 'failed') then 'sent' else ${campaignRecipients.status} end`,
      sentAt: sql`coalesce(${campaignRecipients.sentAt}, ${at.toISOString()}::timestamptz)`,
      finishedAt: sql`coalesce(${campaignRecipients.finishedAt}, ${at.toISOString()}::timestamptz)`,
      error: null,
      errorCode: null,
    })
    .where(eq(campaignRecipients.id, id));
}

export async function markRecipientFailed(db: DbOrTx, id: string, code: string, error: string) {
  await db
    .update(campaignRecipients)
    .set({ status: 'failed', errorCode: code, error: error.slice(0, 500), finishedAt: sql`now()` })
    .where(and(eq(campaignRecipients.id, id), eq(campaignRecipients.status, 'sending')));
}

/** Nothing was sent (rate limited, gateway error): back to pending; a rate-limited try does not count. */
export async function requeueRecipient(
  db: DbOrTx,
  id: string,
  p: { countAttempt: boolean; error: string | null },
) {
  await db
    .update(campaignRecipients)
    .set({
      status: 'pending',
      error: p.error?.slice(0, 500) ?? null,
      claimedAt: null,
      ...(p.countAttempt ? {} : { attempts: sql`greatest(${campaignRecipients.attempts} - 1, 0)` }),
    })
    .where(and(eq(campaignRecipients.id, id), eq(campaignRecipients.status, 'sending')));
}

/**
 * Recipients caught mid-send by a crash: claimed longer ago than any live send can take. Their message
 * may or may not have reached the gateway, and the gateway has no idempotency key, so they are not
 * sent again: they fail with code `unknown` (a later echo or status webhook still corrects them to
 * sent), and `retryFailed` with includeUnknown sends them again on a person's decision.
 */
export async function failInterrupted(db: DbOrTx, olderThanMs: number, campaignId?: string) {
  const age = sql.raw(`interval '${Math.max(0, Math.round(olderThanMs))} milliseconds'`);
  const error = 'Sending was interrupted: the message may or may not have arrived, so it was not sent again';
  const rows = await db
    .update(campaignRecipients)
    .set({ status: 'failed', errorCode: 'unknown', error, finishedAt: sql`now()` })
    .where(
      and(
        eq(campaignRecipients.status, 'sending'),
        sql`${campaignRecipients.claimedAt} < now() - ${age}`,
        campaignId ? eq(campaignRecipients.campaignId, campaignId) : undefined,
      ),
    )
    .returning({
      id: campaignRecipients.id,
      campaignId: campaignRecipients.campaignId,
      messageId: campaignRecipients.messageId,
    });
  const ids = rows.flatMap((r) => (r.messageId ? [r.messageId] : []));
  if (ids.length) {
    await db
      .update(messages)
      .set({ error: 'Sending was interrupted; delivery unknown' })
      .where(and(inArray(messages.id, ids), eq(messages.status, 'pending')));
  }
  return rows;
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
        sql`not exists (select 1 from ${campaignRecipients} where ${campaignRecipients.campaignId} = ${id} and ${campaignRecipients.status} in ('pending', 'sending'))`,
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

/**
 * An inbound message from a contact counts as a reply to the latest campaign message they were sent
 * (once: the first reply after it).
 */
export async function noteCampaignReply(db: DbOrTx, contactId: string, at: Date) {
  const r = campaignRecipients;
  await db.execute(sql`
    update ${r} set replied_at = ${at.toISOString()}::timestamptz
    where id = (select id from ${r} where contact_id = ${contactId} and sent_at is not null order by sent_at desc limit 1)
      and replied_at is null`);
}
