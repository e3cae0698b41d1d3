import { type SQL, sql } from 'drizzle-orm';
import type { Logger } from '../../logger';
import type { DbOrTx } from '../types';

/**
 * pgvector where the database has it. Embeddings are stored as `real[]` (a migration that works on
 * every Postgres); where the `vector` extension is available, the server creates it at boot and adds,
 * per vector length, a partial HNSW index over the embeddings cast to `vector(n)` (cosine distance).
 * Searches use the same cast, so the planner answers from the index. HNSW indexes `vector` up to 2,000
 * dimensions and `halfvec` up to 4,000; longer vectors are searched by an exact scan.
 */

const HNSW_VECTOR_MAX = 2000;
const HNSW_HALFVEC_MAX = 4000;

/** Creates the extension when the database offers it; true when vector search can run. */
export async function enableVector(db: DbOrTx, log: Logger): Promise<boolean> {
  const state = async () => {
    const [row] = await db.execute<{ installed: boolean; available: boolean }>(sql`
      select exists (select 1 from pg_extension where extname = 'vector') as installed,
             exists (select 1 from pg_available_extensions where name = 'vector') as available`);
    return row ?? { installed: false, available: false };
  };
  const before = await state();
  if (before.installed) return true;
  if (!before.available) return false;
  try {
    await db.execute(sql`create extension if not exists vector`);
  } catch (err) {
    // Another process may have created it at the same moment; otherwise the role may not be allowed.
    if ((await state()).installed) return true;
    log.warn({ err }, 'pgvector is available but could not be enabled: lexical retrieval');
    return false;
  }
  return true;
}

const assertDims = (dims: number) => {
  if (!Number.isInteger(dims) || dims < 1 || dims > 16_000) throw new Error(`bad vector length ${dims}`);
};

/** The type an embedding of `dims` is cast to: what its index (if any) is built on. */
function vectorType(dims: number): SQL {
  assertDims(dims);
  return sql.raw(dims > HNSW_VECTOR_MAX && dims <= HNSW_HALFVEC_MAX ? `halfvec(${dims})` : `vector(${dims})`);
}

/** `embedding` cast for the index and the search (the two must be written the same way). */
export const embeddingExpr = (dims: number) => sql`(${sql.identifier('embedding')}::${vectorType(dims)})`;

/** A query vector as a literal of the same type. */
export const queryVector = (v: number[], dims: number) =>
  sql`${`[${v.map((x) => (Number.isFinite(x) ? x : 0)).join(',')}]`}::${vectorType(dims)}`;

/**
 * The HNSW index for vectors of `dims` (idempotent, safe from several processes); `indexed` remembers
 * the lengths this process already ensured on this database.
 */
export async function ensureVectorIndex(
  db: DbOrTx,
  dims: number,
  log: Logger,
  indexed: Set<number>,
): Promise<void> {
  assertDims(dims);
  if (indexed.has(dims) || dims > HNSW_HALFVEC_MAX) return;
  const name = sql.identifier(`knowledge_embeddings_hnsw_${dims}`);
  const ops = sql.raw(dims > HNSW_VECTOR_MAX ? 'halfvec_cosine_ops' : 'vector_cosine_ops');
  try {
    await db.execute(sql`
      create index if not exists ${name} on knowledge_embeddings
      using hnsw (${embeddingExpr(dims)} ${ops}) where dims = ${sql.raw(String(dims))}`);
  } catch (err) {
    const [row] = await db.execute<{ ok: boolean }>(
      sql`select exists (select 1 from pg_indexes where indexname = ${`knowledge_embeddings_hnsw_${dims}`}) as ok`,
    );
    if (!row?.ok) {
      log.warn({ err, dims }, 'could not create the vector index: exact scans');
      return;
    }
  }
  indexed.add(dims);
}
