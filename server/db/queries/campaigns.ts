import { and, asc, desc, eq, inArray, isNull, type SQL, sql } from 'drizzle-orm';
import {
  type CampaignAudience,
  type CampaignAudienceReport,
  type CampaignStatus,
  campaignRecipients,
  campaigns,
  contacts,
  type LeadStatus,
  messages,
  type RecipientStatus,
} from '../../../drizzle';
import type { DbOrTx } from '../types';
import { textArray } from './contacts';
import { afterKeyset, type Keyset, keysetOrder, keyText } from './keyset';

/* ---------------------------------------------------------------- campaigns */

export type CampaignInsert = typeof campaigns.$inferInsert;
export type CampaignRow = typeof campaigns.$inferSelect;

/** Written with explicit names: Drizzle leaves columns unqualified in single-table queries. */
const recipientCount = sql<number>`(select count(*) from ${campaignRecipients} cr where cr.campaign_id = ${campaigns}.id)::int`;

export function listCampaigns(db: DbOrTx, filter: { status?: CampaignStatus; limit: number }) {
  return db
    .select({
      id: campaigns.id,
      name: campaigns.name,
      status: campaigns.status,
      ratePerMinute: campaigns.ratePerMinute,
      scheduledAt: campaigns.scheduledAt,
      startedAt: campaigns.startedAt,
      completedAt: campaigns.completedAt,
      createdAt: campaigns.createdAt,
      recipients: recipientCount,
      pausedReason: campaigns.pausedReason,
    })
    .from(campaigns)
    .where(filter.status ? eq(campaigns.status, filter.status) : undefined)
    .orderBy(desc(campaigns.createdAt), campaigns.id)
    .limit(filter.limit);
}

export async function insertCampaign(db: DbOrTx, row: CampaignInsert) {
  const [created] = await db.insert(campaigns).values(row).returning({ id: campaigns.id });
  return created!.id;
}

export async function findCampaign(db: DbOrTx, id: string) {
  const [row] = await db
    .select({
      id: campaigns.id,
      name: campaigns.name,
      status: campaigns.status,
      template: campaigns.template,
      cloudTemplate: campaigns.cloudTemplate,
      attachment: campaigns.attachment,
      variableDefaults: campaigns.variableDefaults,
      audience: campaigns.audience,
      audienceReport: campaigns.audienceReport,
      ratePerMinute: campaigns.ratePerMinute,
      jitterPercent: campaigns.jitterPercent,
      failureWindow: campaigns.failureWindow,
      failureThresholdPercent: campaigns.failureThresholdPercent,
      scheduledAt: campaigns.scheduledAt,
      startedAt: campaigns.startedAt,
      completedAt: campaigns.completedAt,
      pausedAt: campaigns.pausedAt,
      pausedReason: campaigns.pausedReason,
      cancelledAt: campaigns.cancelledAt,
      createdBy: campaigns.createdBy,
      createdAt: campaigns.createdAt,
      updatedAt: campaigns.updatedAt,
      recipients: recipientCount,
    })
    .from(campaigns)
    .where(eq(campaigns.id, id))
    .limit(1);
  return row ?? null;
}

export async function setAudienceReport(
  db: DbOrTx,
  id: string,
  audience: CampaignAudience,
  report: CampaignAudienceReport,
) {
  await db.update(campaigns).set({ audience, audienceReport: report }).where(eq(campaigns.id, id));
}

/**
 * Moves a campaign to another status only from one of `from`, in one statement: two callers racing
 * (pause against complete, start against cancel) cannot both win. Returns whether it moved.
 */
export async function transition(
  db: DbOrTx,
  id: string,
  from: CampaignStatus[],
  set: Partial<CampaignInsert> & { status: CampaignStatus },
) {
  const rows = await db
    .update(campaigns)
    .set(set)
    .where(and(eq(campaigns.id, id), inArray(campaigns.status, from)))
    .returning({ id: campaigns.id });
  return rows.length > 0;
}

export async function deleteDraft(db: DbOrTx, id: string) {
  const rows = await db
    .delete(campaigns)
    .where(and(eq(campaigns.id, id), eq(campaigns.status, 'draft')))
    .returning({ id: campaigns.id });
  return rows.length > 0;
}

/* -------------------------------------------------------------- figures */

export async function campaignFigures(db: DbOrTx, id: string) {
  const r = campaignRecipients;
  const count = (status: RecipientStatus) =>
    sql<number>`(count(*) filter (where ${r.status} = ${status}))::int`;
  const [row] = await db
    .select({
      total: sql<number>`count(*)::int`,
      pending: count('pending'),
      sending: count('sending'),
      sent: count('sent'),
      delivered: count('delivered'),
      read: count('read'),
      failed: count('failed'),
      skipped: count('skipped'),
      replied: sql<number>`(count(*) filter (where ${r.repliedAt} is not null))::int`,
      sentLastMinute: sql<number>`(count(*) filter (where ${r.sentAt} > now() - interval '1 minute'))::int`,
    })
    .from(r)
    .where(eq(r.campaignId, id));
  return row!;
}

/* ------------------------------------------------------------ audience */

export async function activeContactsByIds(db: DbOrTx, ids: string[]) {
  if (!ids.length) return [];
  return db
    .select({ id: contacts.id, phone: contacts.phone, deletedAt: contacts.deletedAt })
    .from(contacts)
    .where(inArray(contacts.id, ids));
}

/** Contacts (not deleted) with any of the tags or lead statuses, oldest first. */
export function contactsBySegment(db: DbOrTx, p: { tags: string[]; leadStatuses: LeadStatus[] }) {
  const conditions: SQL[] = [];
  if (p.tags.length) conditions.push(sql`${contacts.tags} && ${textArray(p.tags)}`);
  if (p.leadStatuses.length) conditions.push(inArray(contacts.leadStatus, p.leadStatuses));
  if (!conditions.length) return Promise.resolve([]);
  return db
    .select({ id: contacts.id, phone: contacts.phone })
    .from(contacts)
    .where(and(isNull(contacts.deletedAt), sql`(${sql.join(conditions, sql` or `)})`))
    .orderBy(asc(contacts.createdAt), asc(contacts.id));
}

/**
 * Contacts for a list of numbers: existing ones are found, unknown ones created with source `campaign`
 * and the row's fields. Returns every number's contact (deleted ones flagged).
 */
export async function contactsForNumbers(
  db: DbOrTx,
  rows: Array<{
    phone: string;
    name: string | null;
    email: string | null;
    company: string | null;
    position: string | null;
  }>,
) {
  if (!rows.length) return [];
  await db
    .insert(contacts)
    .values(rows.map((r) => ({ ...r, source: 'campaign' })))
    .onConflictDoNothing({ target: contacts.phone });
  return db
    .select({ id: contacts.id, phone: contacts.phone, deletedAt: contacts.deletedAt })
    .from(contacts)
    .where(
      inArray(
        contacts.phone,
        rows.map((r) => r.phone),
      ),
    );
}

export type RecipientInsert = typeof campaignRecipients.$inferInsert;

export async function insertRecipients(db: DbOrTx, rows: RecipientInsert[]) {
  if (!rows.length) return;
  await db.insert(campaignRecipients).values(rows).onConflictDoNothing();
}

/** Every recipient with the contact fields a template uses, in send order. */
export function recipientsWithContacts(db: DbOrTx, campaignId: string) {
  return db
    .select({
      id: campaignRecipients.id,
      contactId: campaignRecipients.contactId,
      variables: campaignRecipients.variables,
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
    .from(campaignRecipients)
    .innerJoin(contacts, eq(contacts.id, campaignRecipients.contactId))
    .where(eq(campaignRecipients.campaignId, campaignId))
    .orderBy(asc(campaignRecipients.position));
}

/** A page of recipients in send order (position, id). */
export function recipientsPage(
  db: DbOrTx,
  p: {
    campaignId: string;
    status?: RecipientStatus;
    errorCode?: string;
    cursor: Keyset | null;
    limit: number;
  },
) {
  const r = campaignRecipients;
  return db
    .select({
      id: r.id,
      contactId: r.contactId,
      phone: r.phone,
      name: sql<string | null>`coalesce(${contacts.name}, ${contacts.pushName})`,
      position: r.position,
      status: r.status,
      attempts: r.attempts,
      error: r.error,
      errorCode: r.errorCode,
      text: r.renderedText,
      messageId: r.messageId,
      sentAt: r.sentAt,
      finishedAt: r.finishedAt,
      repliedAt: r.repliedAt,
      sortKey: keyText(r.position),
    })
    .from(r)
    .innerJoin(contacts, eq(contacts.id, r.contactId))
    .where(
      and(
        eq(r.campaignId, p.campaignId),
        p.status ? eq(r.status, p.status) : undefined,
        p.errorCode ? eq(r.errorCode, p.errorCode) : undefined,
        afterKeyset(r.position, r.id, 'asc', p.cursor, 'int4'),
      ),
    )
    .orderBy(keysetOrder(r.position, r.id, 'asc'))
    .limit(p.limit + 1);
}

/** Cancelling: recipients not yet sent are skipped. */
export async function skipPending(db: DbOrTx, campaignId: string, code: string, error: string) {
  const rows = await db
    .update(campaignRecipients)
    .set({ status: 'skipped', errorCode: code, error, finishedAt: sql`now()` })
    .where(and(eq(campaignRecipients.campaignId, campaignId), eq(campaignRecipients.status, 'pending')))
    .returning({ id: campaignRecipients.id });
  return rows.length;
}

/**
 * Puts failed recipients back to pending. Those whose outcome is unknown (their message may have
 * arrived) only when asked; their old message is closed as failed so it is not mistaken for pending.
 */
export async function requeueFailed(db: DbOrTx, campaignId: string, includeUnknown: boolean) {
  const rows = await db
    .update(campaignRecipients)
    .set({ status: 'pending', error: null, errorCode: null, finishedAt: null, attempts: 0, claimedAt: null })
    .where(
      and(
        eq(campaignRecipients.campaignId, campaignId),
        eq(campaignRecipients.status, 'failed'),
        includeUnknown ? undefined : sql`${campaignRecipients.errorCode} is distinct from 'unknown'`,
      ),
    )
    .returning({ id: campaignRecipients.id, messageId: campaignRecipients.messageId });
  const stale = rows.flatMap((r) => (r.messageId ? [r.messageId] : []));
  for (let i = 0; i < stale.length; i += 5000) {
    await db
      .update(messages)
      .set({ status: 'failed', error: 'Sent again by the campaign' })
      .where(
        and(inArray(messages.id, stale.slice(i, i + 5000)), inArray(messages.status, ['pending', 'queued'])),
      );
  }
  return rows.length;
}

/**
 * Pending recipients a free-form message may not reach on the Cloud API: no conversation on the Cloud
 * channel, or the customer's last message before `since` (24 hours ago).
 */
export async function countOutsideWindow(db: DbOrTx, campaignId: string, since: Date): Promise<number> {
  const rows = await db.execute<{ n: number }>(sql`
    select count(*)::int as n
    from campaign_recipients r
    left join conversations v on v.contact_id = r.contact_id
    where r.campaign_id = ${campaignId} and r.status = 'pending'
      and (v.id is null or v.channel <> 'whatsapp-cloud' or v.last_inbound_at is null
        or v.last_inbound_at < ${since.toISOString()}::timestamptz)`);
  return [...rows][0]?.n ?? 0;
}
