import { and, eq, gte, inArray, isNull, lt, lte, type SQL, sql } from 'drizzle-orm';
import {
  contactActivityAt,
  contactIdentities,
  contactSearchText,
  contacts,
  conversations,
  type IdentityKind,
  type LeadStatus,
  leadQualifications,
  type ScoreBreakdownItem,
  type StoredAssessment,
} from '../../../drizzle';
import type { DbOrTx } from '../types';
import { afterKeyset, type Keyset, type KeyType, keysetOrder, keyText, likePattern } from './keyset';
import { builtOnce, rawOnce } from './prepared';

export type ContactInsert = typeof contacts.$inferInsert;

export const contactColumns = {
  id: contacts.id,
  phone: contacts.phone,
  name: contacts.name,
  pushName: contacts.pushName,
  pictureUrl: contacts.pictureUrl,
  email: contacts.email,
  company: contacts.company,
  position: contacts.position,
  leadStatus: contacts.leadStatus,
  leadScore: contacts.leadScore,
  source: contacts.source,
  tags: contacts.tags,
  notes: contacts.notes,
  optedOutAt: contacts.optedOutAt,
  lastInboundAt: contacts.lastInboundAt,
  createdAt: contacts.createdAt,
  updatedAt: contacts.updatedAt,
};

/** What a list row shows of a contact. */
export const contactSummaryColumns = {
  id: contacts.id,
  phone: contacts.phone,
  name: contacts.name,
  pushName: contacts.pushName,
  leadStatus: contacts.leadStatus,
  leadScore: contacts.leadScore,
  tags: contacts.tags,
  optedOutAt: contacts.optedOutAt,
};

const notDeleted = isNull(contacts.deletedAt);

/** `array[$1, $2]::text[]`: a text array as separate parameters, the same on every driver setting. */
export const textArray = (values: string[]) =>
  sql`array[${sql.join(
    values.map((v) => sql`${v}`),
    sql`, `,
  )}]::text[]`;

/**
 * The contact search condition (served by the trigram index on contactSearchText). A query made of
 * phone characters is matched by its digits, so "+1 (415) 555" finds +14155550101.
 */
export function contactSearchCondition(q: string): SQL {
  const digits = q.replace(/\D/g, '');
  const phoneLike = /^[\d\s()+.-]+$/.test(q) && digits.length >= 3;
  return sql`${contactSearchText(contacts)} ilike ${likePattern(phoneLike ? digits : q)}`;
}

/** Inserts a contact; returns null when the phone already exists. */
export async function insertContact(db: DbOrTx, row: ContactInsert) {
  const [created] = await db
    .insert(contacts)
    .values(row)
    .onConflictDoNothing({ target: contacts.phone })
    .returning(contactColumns);
  return created ?? null;
}

/** Inserts many contacts; rows whose phone exists are skipped. Returns the created ids. */
export async function insertContacts(db: DbOrTx, rows: ContactInsert[]) {
  if (!rows.length) return [];
  return db
    .insert(contacts)
    .values(rows)
    .onConflictDoNothing({ target: contacts.phone })
    .returning({ id: contacts.id });
}

export async function findContact(db: DbOrTx, id: string) {
  const [row] = await db
    .select(contactColumns)
    .from(contacts)
    .where(and(eq(contacts.id, id), notDeleted))
    .limit(1);
  return row ?? null;
}

/** The latest lead assessment as the contact detail carries it (`assessedAt` as ISO text). */
export interface LatestQualificationRow {
  id: string;
  conversationId: string;
  assessment: StoredAssessment;
  model: string;
  assessedAt: string;
  taskId: string | null;
}

const parseJson = (v: unknown) => (typeof v === 'string' ? JSON.parse(v) : v);

/** The contact's latest assessment, in the detail's one statement (no extra round trip for the card). */
const latestQualificationSql = sql<LatestQualificationRow | null>`(
  select jsonb_build_object('id', q.id, 'conversationId', q.conversation_id, 'assessment', q.assessment,
    'model', q.model, 'assessedAt', q.assessed_at, 'taskId', q.task_id)
  from ${leadQualifications} q where q.contact_id = ${contacts.id}
  order by q.assessed_at desc, q.created_at desc limit 1)`.mapWith(parseJson);

const contactDetail = builtOnce((db) =>
  db
    .select({
      ...contactColumns,
      scoreBreakdown: contacts.scoreBreakdown,
      scoredAt: contacts.scoredAt,
      conversationId: conversations.id,
      conversationOwner: conversations.owner,
      conversationUnread: conversations.unreadCount,
      conversationLastMessageAt: conversations.lastMessageAt,
      qualification: latestQualificationSql,
    })
    .from(contacts)
    .leftJoin(conversations, eq(conversations.contactId, contacts.id))
    .where(and(eq(contacts.id, sql.placeholder('id')), notDeleted))
    .limit(1),
);

export async function findContactDetail(db: DbOrTx, id: string) {
  const [row] = await contactDetail(db).execute({ id });
  return row ?? null;
}

export async function findContactByPhone(db: DbOrTx, phone: string) {
  const [row] = await db
    .select(contactColumns)
    .from(contacts)
    .where(and(eq(contacts.phone, phone), notDeleted))
    .limit(1);
  return row ?? null;
}

/** Contacts holding any of these phones, deleted ones included (the phone stays taken). */
export async function findContactsByPhones(db: DbOrTx, phones: string[]) {
  const found: { id: string; phone: string; deleted: boolean }[] = [];
  for (let i = 0; i < phones.length; i += 1000) {
    const chunk = phones.slice(i, i + 1000);
    const rows = await db
      .select({
        id: contacts.id,
        phone: contacts.phone,
        deleted: sql<boolean>`${contacts.deletedAt} is not null`,
      })
      .from(contacts)
      .where(inArray(contacts.phone, chunk));
    found.push(...rows);
  }
  return found;
}

export type ContactSort = 'recent' | 'score' | 'name';

const SORTS: Record<
  ContactSort,
  { expr: () => SQL | typeof contacts.leadScore; dir: 'asc' | 'desc'; type: KeyType }
> = {
  recent: { expr: () => contactActivityAt(contacts), dir: 'desc', type: 'timestamptz' },
  score: { expr: () => contacts.leadScore, dir: 'desc', type: 'int4' },
  name: {
    expr: () => sql`lower(coalesce(${contacts.name}, ${contacts.pushName}, ${contacts.phone}))`,
    dir: 'asc',
    type: 'text',
  },
};

export const contactSortKeyType = (sort: ContactSort) => SORTS[sort].type;

export interface ContactListFilter {
  tag?: string;
  leadStatus?: LeadStatus;
  minScore?: number;
  maxScore?: number;
  source?: string;
  optedOut?: boolean;
  q?: string;
  lastInboundAfter?: Date;
  lastInboundBefore?: Date;
}

export function contactFilterConditions(f: ContactListFilter): (SQL | undefined)[] {
  return [
    notDeleted,
    f.tag ? sql`${contacts.tags} @> ${textArray([f.tag])}` : undefined,
    f.leadStatus ? eq(contacts.leadStatus, f.leadStatus) : undefined,
    f.minScore !== undefined ? gte(contacts.leadScore, f.minScore) : undefined,
    f.maxScore !== undefined ? lte(contacts.leadScore, f.maxScore) : undefined,
    f.source ? eq(contacts.source, f.source) : undefined,
    f.optedOut === undefined
      ? undefined
      : f.optedOut
        ? sql`${contacts.optedOutAt} is not null`
        : sql`${contacts.optedOutAt} is null`,
    f.q ? contactSearchCondition(f.q) : undefined,
    f.lastInboundAfter ? gte(contacts.lastInboundAt, f.lastInboundAfter) : undefined,
    f.lastInboundBefore ? lt(contacts.lastInboundAt, f.lastInboundBefore) : undefined,
  ];
}

export function listContacts(
  db: DbOrTx,
  p: ContactListFilter & { sort: ContactSort; limit: number; after: Keyset | null },
) {
  const s = SORTS[p.sort];
  const expr = s.expr();
  return db
    .select({ ...contactColumns, sortKey: keyText(expr) })
    .from(contacts)
    .where(and(...contactFilterConditions(p), afterKeyset(expr, contacts.id, s.dir, p.after, s.type)))
    .orderBy(keysetOrder(expr, contacts.id, s.dir, s.dir === 'desc' ? 'last' : 'default'))
    .limit(p.limit + 1);
}

export type ContactPatch = Partial<
  Pick<
    ContactInsert,
    'phone' | 'name' | 'email' | 'company' | 'position' | 'leadStatus' | 'source' | 'tags' | 'notes'
  >
>;

export async function updateContact(db: DbOrTx, id: string, patch: ContactPatch) {
  const [row] = await db
    .update(contacts)
    .set({ ...patch, updatedAt: new Date() })
    .where(and(eq(contacts.id, id), notDeleted))
    .returning(contactColumns);
  return row ?? null;
}

/** The contact's lead status, locked for the rest of the transaction. */
export async function lockContactStatus(db: DbOrTx, id: string) {
  const [row] = await db
    .select({ leadStatus: contacts.leadStatus })
    .from(contacts)
    .where(and(eq(contacts.id, id), notDeleted))
    .for('update');
  return row ?? null;
}

export async function softDeleteContact(db: DbOrTx, id: string, at: Date) {
  const rows = await db
    .update(contacts)
    .set({ deletedAt: at, updatedAt: at })
    .where(and(eq(contacts.id, id), notDeleted))
    .returning({ id: contacts.id });
  return rows.length > 0;
}

export async function existingContactIds(db: DbOrTx, ids: string[]) {
  const rows = await db
    .select({ id: contacts.id })
    .from(contacts)
    .where(and(inArray(contacts.id, ids), notDeleted));
  return new Set(rows.map((r) => r.id));
}

/** Adds tags to contacts that lack one of them; returns the ids that changed. */
export async function addTags(db: DbOrTx, ids: string[], tags: string[]) {
  const rows = await db
    .update(contacts)
    .set({
      tags: sql`${contacts.tags} || array(select t from unnest(${textArray(tags)}) with ordinality as n(t, i) where t <> all(${contacts.tags}) order by i)`,
      updatedAt: new Date(),
    })
    .where(and(inArray(contacts.id, ids), notDeleted, sql`not (${contacts.tags} @> ${textArray(tags)})`))
    .returning({ id: contacts.id });
  return rows.map((r) => r.id);
}

/** Removes tags from contacts that carry one of them; returns the ids that changed. */
export async function removeTags(db: DbOrTx, ids: string[], tags: string[]) {
  const rows = await db
    .update(contacts)
    .set({
      tags: sql`array(select t from unnest(${contacts.tags}) with ordinality as n(t, i) where t <> all(${textArray(tags)}) order by i)`,
      updatedAt: new Date(),
    })
    .where(and(inArray(contacts.id, ids), notDeleted, sql`${contacts.tags} && ${textArray(tags)}`))
    .returning({ id: contacts.id });
  return rows.map((r) => r.id);
}

export async function setLeadScores(
  db: DbOrTx,
  rows: { id: string; score: number; breakdown: ScoreBreakdownItem[] }[],
  at: Date,
) {
  if (!rows.length) return 0;
  const values = sql.join(
    rows.map((r) => sql`(${r.id}::uuid, ${r.score}::int, ${JSON.stringify(r.breakdown)}::jsonb)`),
    sql`, `,
  );
  const result = await db.execute<{ changed: boolean }>(sql`
    update ${contacts} set lead_score = v.score, score_breakdown = v.breakdown, scored_at = ${at.toISOString()}::timestamptz
    from (
      select v.id, v.score, v.breakdown, c.lead_score as old_score
      from (values ${values}) as v(id, score, breakdown) join ${contacts} c on c.id = v.id
    ) as v
    where ${contacts.id} = v.id
    returning v.old_score <> v.score as changed`);
  return result.filter((r) => r.changed).length;
}

/** A contact by id even when deleted (a conversation keeps showing whom it was with). */
export async function findContactIncludingDeleted(db: DbOrTx, id: string) {
  const [row] = await db.select(contactColumns).from(contacts).where(eq(contacts.id, id)).limit(1);
  return row ?? null;
}

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

/**
 * What the bot knows about a customer beyond the chat (open deals, pending tasks, recent activities)
 * as three JSON columns (`deals`, `tasks`, `recent`) of a select; read them with `parseCrmContext`.
 */
export function crmContextColumns(contactId: SQL) {
  return sql`
      (select coalesce(json_agg(d), '[]') from (
        select title, stage, value::text as value, currency from deals
        where contact_id = ${contactId} and deleted_at is null
          and stage not in ('won','lost')
        limit 5) d) as deals,
      (select coalesce(json_agg(t), '[]') from (
        select title, due_at as "dueAt" from tasks
        where contact_id = ${contactId} and status = 'open'
        limit 5) t) as tasks,
      (select coalesce(json_agg(a order by a."occurredAt" desc), '[]') from (
        select type, summary, occurred_at as "occurredAt" from activities
        where contact_id = ${contactId}
        order by occurred_at desc
        limit 5) a) as recent`;
}

const crmContextStatement = rawOnce<Array<{ deals: unknown; tasks: unknown; recent: unknown }>>(
  () => sql`select ${crmContextColumns(sql`${sql.placeholder('contactId')}::uuid`)}`,
);

export async function crmContext(db: DbOrTx, contactId: string) {
  const rows = await crmContextStatement(db).execute({ contactId });
  return parseCrmContext(rows[0]);
}

/** The CRM record from the columns of `crmContextColumns`. */
export function parseCrmContext(row: { deals: unknown; tasks: unknown; recent: unknown } | undefined) {
  const openDeals = jsonList<{ title: string; stage: string; value: string; currency: string }>(row?.deals);
  const pendingTasks = jsonList<{ title: string; dueAt: string | null }>(row?.tasks).map((t) => ({
    title: t.title,
    dueAt: t.dueAt === null ? null : new Date(t.dueAt),
  }));
  const recent = jsonList<{ type: string; summary: string; occurredAt: string }>(row?.recent).map((a) => ({
    type: a.type,
    summary: a.summary,
    occurredAt: new Date(a.occurredAt),
  }));
  return { openDeals, pendingTasks, recent };
}

/** A JSON array column: the driver gives JSON as text or as parsed values depending on its setup. */
export function jsonList<T>(raw: unknown): T[] {
  const v = typeof raw === 'string' ? (JSON.parse(raw) as unknown) : raw;
  return Array.isArray(v) ? (v as T[]) : [];
}

export async function setContactNameIfEmpty(db: DbOrTx, contactId: string, name: string) {
  await db
    .update(contacts)
    .set({ name })
    .where(and(eq(contacts.id, contactId), isNull(contacts.name)));
}

/**
 * Imports names and pictures from the gateway's contact list: a new phone becomes a contact with
 * source 'gateway'; a known one only gets the fields it lacks (an empty name, no picture), so nothing
 * a person entered is overwritten. Deleted contacts are left alone. Phones must be unique in `rows`.
 */
export async function fillContactsFromGateway(
  db: DbOrTx,
  rows: Array<{ phone: string; name: string | null; pictureUrl: string | null }>,
): Promise<{ created: number; updated: number }> {
  if (rows.length === 0) return { created: 0, updated: 0 };
  const result = await db
    .insert(contacts)
    .values(rows.map((r) => ({ phone: r.phone, name: r.name, pictureUrl: r.pictureUrl, source: 'gateway' })))
    .onConflictDoUpdate({
      target: contacts.phone,
      set: {
        name: sql`coalesce(nullif(btrim(${contacts.name}), ''), excluded.name)`,
        pictureUrl: sql`coalesce(${contacts.pictureUrl}, excluded.picture_url)`,
        updatedAt: sql`now()`,
      },
      setWhere: sql`${contacts.deletedAt} is null and (
        (nullif(btrim(${contacts.name}), '') is null and excluded.name is not null)
        or (${contacts.pictureUrl} is null and excluded.picture_url is not null))`,
    })
    .returning({ inserted: sql<boolean>`(xmax = 0)` });
  const created = result.filter((r) => r.inserted).length;
  return { created, updated: result.length - created };
}
