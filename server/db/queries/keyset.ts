import { type AnyColumn, type SQL, type SQLWrapper, sql } from 'drizzle-orm';

/**
 * Keyset pagination: lists are ordered by a non-null sort key and then the row id, and a page starts
 * after the last row of the previous one. The key travels as Postgres text (full microsecond precision
 * for timestamps) and is cast back with its own type.
 */
export interface Keyset {
  key: string;
  id: string;
}

export type KeyType = 'timestamptz' | 'int4' | 'text';

/** Rows strictly after the cursor in the order (sort, id) both ascending or both descending. */
export function afterKeyset(
  sort: SQL | AnyColumn,
  id: AnyColumn,
  dir: 'asc' | 'desc',
  cursor: Keyset | null | undefined,
  type: KeyType,
): SQL | undefined {
  if (!cursor) return undefined;
  const key = sql`${cursor.key}::${sql.raw(type)}`;
  return dir === 'desc'
    ? sql`(${sort}, ${id}) < (${key}, ${cursor.id}::uuid)`
    : sql`(${sort}, ${id}) > (${key}, ${cursor.id}::uuid)`;
}

/**
 * The order matching afterKeyset. Sort keys are never null, but the planner still matches the nulls
 * placement against an index's: Postgres's default (nulls last ascending, first descending) fits plain
 * and backward-scanned indexes; `nulls: 'last'` fits indexes declared `desc nulls last`.
 */
export function keysetOrder(
  sort: SQLWrapper,
  id: SQLWrapper,
  dir: 'asc' | 'desc',
  nulls: 'default' | 'last' = 'default',
): SQL {
  const suffix = sql.raw(nulls === 'last' ? `${dir} nulls last` : dir);
  return sql`${sort} ${suffix}, ${id} ${suffix}`;
}

/** The sort key as text, to build the next cursor from the last row. */
export const keyText = (sort: SQL | AnyColumn) => sql<string>`(${sort})::text`;

/** Escapes LIKE wildcards so user text matches literally. */
export const likePattern = (text: string) => `%${text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
