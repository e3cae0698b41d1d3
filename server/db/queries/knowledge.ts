import { and, asc, count, eq, ilike, sql } from 'drizzle-orm';
import {
  type KnowledgeFormat,
  type KnowledgeStatus,
  knowledgeDocuments,
  knowledgeEmbeddings,
  knowledgePassages,
} from '../../../drizzle';
import type { DbOrTx } from '../types';
import { embeddingExpr, queryVector } from './knowledge-vector';
import { builtOnce } from './prepared';

export const QUEUE_KNOWLEDGE_EMBED = 'knowledge.embed';

const documentColumns = {
  id: knowledgeDocuments.id,
  title: knowledgeDocuments.title,
  format: knowledgeDocuments.format,
  status: knowledgeDocuments.status,
  passageCount: knowledgeDocuments.passageCount,
  embeddedCount: knowledgeDocuments.embeddedCount,
  embeddingModel: knowledgeDocuments.embeddingModel,
  error: knowledgeDocuments.error,
  embeddedAt: knowledgeDocuments.embeddedAt,
  createdAt: knowledgeDocuments.createdAt,
  updatedAt: knowledgeDocuments.updatedAt,
};

export type DocumentRow = Awaited<ReturnType<typeof listDocuments>>[number];

export async function insertDocument(
  db: DbOrTx,
  d: { title: string; format: KnowledgeFormat; content: string; status: KnowledgeStatus; createdBy: string },
) {
  const [row] = await db
    .insert(knowledgeDocuments)
    .values({ ...d, passageCount: 0 })
    .returning(documentColumns);
  return row!;
}

export async function updateDocument(
  db: DbOrTx,
  id: string,
  patch: Partial<{
    title: string;
    format: KnowledgeFormat;
    content: string;
    status: KnowledgeStatus;
    passageCount: number;
    embeddedCount: number;
    embeddingModel: string | null;
    error: string | null;
    embeddedAt: Date | null;
  }>,
) {
  const [row] = await db
    .update(knowledgeDocuments)
    .set(patch)
    .where(eq(knowledgeDocuments.id, id))
    .returning(documentColumns);
  return row ?? null;
}

/** The document row locked for the rest of the transaction (an update and the embed job take turns). */
export async function lockDocument(db: DbOrTx, id: string) {
  const [row] = await db
    .select({ ...documentColumns, content: knowledgeDocuments.content })
    .from(knowledgeDocuments)
    .where(eq(knowledgeDocuments.id, id))
    .for('update');
  return row ?? null;
}

export async function getDocument(db: DbOrTx, id: string) {
  const [row] = await db
    .select({ ...documentColumns, content: knowledgeDocuments.content })
    .from(knowledgeDocuments)
    .where(eq(knowledgeDocuments.id, id));
  return row ?? null;
}

export function listDocuments(db: DbOrTx, p: { q?: string | null; limit: number }) {
  const pattern = p.q ? `%${p.q.replace(/[\\%_]/g, (c) => `\\${c}`)}%` : null;
  return db
    .select(documentColumns)
    .from(knowledgeDocuments)
    .where(pattern ? ilike(knowledgeDocuments.title, pattern) : undefined)
    .orderBy(asc(knowledgeDocuments.title), asc(knowledgeDocuments.id))
    .limit(p.limit);
}

export async function deleteDocument(db: DbOrTx, id: string): Promise<boolean> {
  const rows = await db
    .delete(knowledgeDocuments)
    .where(eq(knowledgeDocuments.id, id))
    .returning({ id: knowledgeDocuments.id });
  return rows.length > 0;
}

/** Replaces a document's passages (their embeddings stay, keyed by content, for equal passages). */
export async function replacePassages(
  db: DbOrTx,
  documentId: string,
  passages: { heading: string | null; text: string; contentHash: string }[],
) {
  await db.delete(knowledgePassages).where(eq(knowledgePassages.documentId, documentId));
  for (let i = 0; i < passages.length; i += 500) {
    await db.insert(knowledgePassages).values(
      passages.slice(i, i + 500).map((p, j) => ({
        documentId,
        position: i + j,
        heading: p.heading,
        text: p.text,
        contentHash: p.contentHash,
      })),
    );
  }
}

/** A document's passages in order, each marked embedded when `model` has its vector. */
export function listPassages(db: DbOrTx, documentId: string, model: string | null) {
  return db
    .select({
      id: knowledgePassages.id,
      position: knowledgePassages.position,
      heading: knowledgePassages.heading,
      text: knowledgePassages.text,
      contentHash: knowledgePassages.contentHash,
      embedded: model
        ? sql<boolean>`exists (select 1 from ${knowledgeEmbeddings} e where e.model = ${model} and e.content_hash = knowledge_passages.content_hash)`
        : sql<boolean>`false`,
    })
    .from(knowledgePassages)
    .where(eq(knowledgePassages.documentId, documentId))
    .orderBy(asc(knowledgePassages.position));
}

/** Stores vectors; one already stored for the same (model, content) is kept (a rerun is harmless). */
export async function insertEmbeddings(
  db: DbOrTx,
  rows: { model: string; contentHash: string; dims: number; embedding: number[] }[],
) {
  if (!rows.length) return;
  await db.insert(knowledgeEmbeddings).values(rows).onConflictDoNothing();
}

/** Passages of the document that have a vector for `model`. */
export async function countEmbedded(db: DbOrTx, documentId: string, model: string): Promise<number> {
  const [row] = await db
    .select({ n: count() })
    .from(knowledgePassages)
    .where(
      and(
        eq(knowledgePassages.documentId, documentId),
        sql`exists (select 1 from ${knowledgeEmbeddings} e where e.model = ${model} and e.content_hash = knowledge_passages.content_hash)`,
      ),
    );
  return row?.n ?? 0;
}

/** Vectors no passage uses any more (documents changed or deleted), and vectors of other models. */
export async function deleteStaleEmbeddings(db: DbOrTx, model: string | null) {
  await db.execute(sql`
    delete from knowledge_embeddings e
    where not exists (select 1 from knowledge_passages p where p.content_hash = e.content_hash)
       ${model ? sql`or e.model <> ${model}` : sql``}`);
}

/** Documents whose passages are not all embedded with `model` (or that never were). */
export async function documentsToEmbed(db: DbOrTx, model: string): Promise<string[]> {
  const rows = await db.execute<{ id: string }>(sql`
    select d.id from knowledge_documents d
    where d.embedding_model is distinct from ${model} or d.status <> 'ready'
       or d.embedded_count < d.passage_count`);
  return rows.map((r) => r.id);
}

const anyPassage = builtOnce((db) =>
  db.select({ id: knowledgePassages.id }).from(knowledgePassages).limit(1),
);

export async function hasPassages(db: DbOrTx): Promise<boolean> {
  return (await anyPassage(db).execute()).length > 0;
}

/** The vector lengths stored (one HNSW index each). */
export async function embeddingLengths(db: DbOrTx): Promise<number[]> {
  const rows = await db.selectDistinct({ dims: knowledgeEmbeddings.dims }).from(knowledgeEmbeddings);
  return rows.map((r) => r.dims);
}

export async function knowledgeCounts(db: DbOrTx) {
  const [row] = await db
    .select({
      documents: count(),
      failed: sql<number>`count(*) filter (where ${knowledgeDocuments.status} = 'failed')::int`,
    })
    .from(knowledgeDocuments);
  return { documents: row?.documents ?? 0, failed: row?.failed ?? 0 };
}

export interface Candidate {
  passageId: string;
  rank: number;
}

/** The question's words as the full-text search sees them: stemmed, stop words left out, once each. */
const queryLexemes = (query: string) =>
  sql`array(select distinct unnest(tsvector_to_array(to_tsvector('english', ${query}))))`;

/** Passages matching any of the question's words, best `ts_rank_cd` first. */
export async function fullTextCandidates(db: DbOrTx, query: string, limit: number): Promise<Candidate[]> {
  const rows = await db.execute<{ id: string }>(sql`
    with q as (
      select nullif(replace(plainto_tsquery('english', ${query})::text, ' & ', ' | '), '')::tsquery as tq
    )
    select p.id from knowledge_passages p, q
    where q.tq is not null and p.search_vector @@ q.tq
    order by ts_rank_cd(p.search_vector, q.tq) desc, p.text, p.id
    limit ${limit}`);
  return rows.map((r, i) => ({ passageId: r.id, rank: i + 1 }));
}

/** Passages containing words close in spelling to the question's (trigrams; catches typos). */
export async function trigramCandidates(db: DbOrTx, query: string, limit: number): Promise<Candidate[]> {
  // The planner prices the trigram GIN index above a sequential scan on a table of a few thousand
  // rows, but the scan computes `word_similarity` on every passage (about 50 ms for 1,000 passages on
  // the embedded database, 4-18 ms through the index), so the statement is told to use the index.
  const rows = await db.transaction(async (tx) => {
    await tx.execute(sql`select set_config('enable_seqscan', 'off', true)`);
    return tx.execute<{ id: string }>(sql`
    select p.id from knowledge_passages p
    where ${query} <% p.text
    order by word_similarity(${query}, p.text) desc, p.text, p.id
    limit ${limit}`);
  });
  return rows.map((r, i) => ({ passageId: r.id, rank: i + 1 }));
}

const HNSW_EF_SEARCH = 200;

/** Nearest passages by cosine distance (HNSW where indexed), with their similarity. */
export async function vectorCandidates(
  db: DbOrTx,
  p: { vector: number[]; model: string; limit: number },
): Promise<(Candidate & { similarity: number })[]> {
  const dims = p.vector.length;
  const expr = embeddingExpr(dims);
  const qv = queryVector(p.vector, dims);
  // HNSW visits `ef_search` candidates (default 40); a wider search costs little at knowledge-base sizes
  // and keeps the approximate nearest neighbours close to the exact ones. The model is tested as
  // `(model = $m) is true`, which no btree can answer: written as `model = $m`, the planner reads every
  // vector of the model through the primary key and sorts them all by a distance computed on each
  // (about 20 ms for 1,000 passages on the embedded database, against 4-7 ms through the HNSW index).
  // The index scan then filters its `ef_search` candidates by model (vectors of another model are only
  // there until `reconcile` drops them).
  const rows = await db.transaction(async (tx) => {
    await tx.execute(sql`select set_config('hnsw.ef_search', ${String(HNSW_EF_SEARCH)}, true)`);
    return tx.execute<{ id: string; similarity: number }>(sql`
    with nearest as (
      select e.content_hash, ${expr} <=> ${qv} as distance
      from knowledge_embeddings e
      where e.dims = ${sql.raw(String(dims))} and (e.model = ${p.model}) is true
      order by ${expr} <=> ${qv}
      limit ${p.limit}
    )
    select p.id, (1 - n.distance)::float8 as similarity
    from nearest n join knowledge_passages p on p.content_hash = n.content_hash
    order by n.distance, p.text, p.id`);
  });
  return rows.map((r, i) => ({ passageId: r.id, rank: i + 1, similarity: Number(r.similarity) }));
}

/** The passages with their document and the share of the question's words each contains. */
export async function hydratePassages(db: DbOrTx, ids: string[], query: string) {
  if (!ids.length) return [];
  const rows = await db.execute<{
    id: string;
    document_id: string;
    position: number;
    heading: string | null;
    text: string;
    title: string;
    lexical: number;
  }>(sql`
    with q as (select ${queryLexemes(query)} as lx)
    select p.id, p.document_id, p.position, p.heading, p.text, d.title,
      coalesce((select count(*) from unnest(q.lx) l where l = any(tsvector_to_array(p.search_vector)))::float8
        / nullif(cardinality(q.lx), 0), 0) as lexical
    from knowledge_passages p join knowledge_documents d on d.id = p.document_id, q
    where p.id in ${sql`(${sql.join(
      ids.map((id) => sql`${id}::uuid`),
      sql`, `,
    )})`}`);
  return rows.map((r) => ({
    id: r.id,
    documentId: r.document_id,
    position: Number(r.position),
    heading: r.heading,
    text: r.text,
    title: r.title,
    lexical: Number(r.lexical),
  }));
}
