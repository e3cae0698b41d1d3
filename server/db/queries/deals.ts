import { and, eq, inArray, isNull, type SQL, sql } from 'drizzle-orm';
import { type DealStage, deals } from '../../../drizzle';
import type { DbOrTx } from '../types';
import { afterKeyset, type Keyset, keysetOrder, keyText } from './keyset';
import { builtOnce } from './prepared';

export const dealColumns = {
  id: deals.id,
  contactId: deals.contactId,
  title: deals.title,
  stage: deals.stage,
  value: deals.value,
  currency: deals.currency,
  probability: deals.probability,
  expectedCloseAt: deals.expectedCloseAt,
  closedAt: deals.closedAt,
  createdAt: deals.createdAt,
  updatedAt: deals.updatedAt,
};

const notDeleted = isNull(deals.deletedAt);

export type DealInsert = typeof deals.$inferInsert;

export async function insertDeal(db: DbOrTx, row: DealInsert) {
  const [created] = await db.insert(deals).values(row).returning(dealColumns);
  return created!;
}

export async function findDeal(db: DbOrTx, id: string, opts: { lock?: boolean } = {}) {
  const q = db
    .select(dealColumns)
    .from(deals)
    .where(and(eq(deals.id, id), notDeleted))
    .limit(1);
  const [row] = opts.lock ? await q.for('update') : await q;
  return row ?? null;
}

export interface DealListFilter {
  stage?: DealStage;
  contactId?: string;
  minValue?: string;
  maxValue?: string;
  currency?: string;
  limit: number;
  after: Keyset | null;
}

/** Deals, newest first. */
export function listDeals(db: DbOrTx, f: DealListFilter) {
  const where: (SQL | undefined)[] = [
    notDeleted,
    f.stage ? eq(deals.stage, f.stage) : undefined,
    f.contactId ? eq(deals.contactId, f.contactId) : undefined,
    f.minValue !== undefined ? sql`${deals.value} >= ${f.minValue}::numeric` : undefined,
    f.maxValue !== undefined ? sql`${deals.value} <= ${f.maxValue}::numeric` : undefined,
    f.currency ? eq(deals.currency, f.currency) : undefined,
    afterKeyset(deals.createdAt, deals.id, 'desc', f.after, 'timestamptz'),
  ];
  return db
    .select({ ...dealColumns, sortKey: keyText(deals.createdAt) })
    .from(deals)
    .where(and(...where))
    .orderBy(keysetOrder(deals.createdAt, deals.id, 'desc'))
    .limit(f.limit + 1);
}

const contactDeals = builtOnce((db) =>
  db
    .select(dealColumns)
    .from(deals)
    .where(and(eq(deals.contactId, sql.placeholder('contactId')), notDeleted))
    .orderBy(sql`${deals.createdAt} desc`, deals.id)
    .limit(100),
);

export function listContactDeals(db: DbOrTx, contactId: string) {
  return contactDeals(db).execute({ contactId });
}

export type DealPatch = Partial<
  Pick<DealInsert, 'title' | 'value' | 'currency' | 'probability' | 'expectedCloseAt' | 'stage' | 'closedAt'>
>;

export async function updateDeal(db: DbOrTx, id: string, patch: DealPatch) {
  const [row] = await db
    .update(deals)
    .set({ ...patch, updatedAt: new Date() })
    .where(and(eq(deals.id, id), notDeleted))
    .returning(dealColumns);
  return row ?? null;
}

export async function softDeleteDeal(db: DbOrTx, id: string, at: Date) {
  const [row] = await db
    .update(deals)
    .set({ deletedAt: at, updatedAt: at })
    .where(and(eq(deals.id, id), notDeleted))
    .returning({ id: deals.id, contactId: deals.contactId, title: deals.title });
  return row ?? null;
}

/** Count and exact value sums per stage and currency (sums in numeric, returned as text). */
export function pipelineTotals(db: DbOrTx) {
  return db
    .select({
      stage: deals.stage,
      currency: deals.currency,
      count: sql<number>`count(*)::int`,
      value: sql<string>`sum(${deals.value})::text`,
    })
    .from(deals)
    .where(notDeleted)
    .groupBy(deals.stage, deals.currency)
    .orderBy(deals.stage, deals.currency);
}

export async function dealIdsOfContacts(db: DbOrTx, contactIds: string[]) {
  if (!contactIds.length) return [];
  return db
    .select({ id: deals.id })
    .from(deals)
    .where(and(inArray(deals.contactId, contactIds), notDeleted));
}

/** Open deals (not won or lost): count and exact value per currency. */
export function openPipelineTotals(db: DbOrTx) {
  return db
    .select({
      currency: deals.currency,
      count: sql<number>`count(*)::int`,
      value: sql<string>`sum(${deals.value})::text`,
    })
    .from(deals)
    .where(and(notDeleted, sql`${deals.stage} not in ('won', 'lost')`))
    .groupBy(deals.currency)
    .orderBy(deals.currency);
}
