import type { Keyset, KeyType } from '../db/queries/keyset';
import { badRequest } from '../errors';

/**
 * Opaque cursors: the list they belong to (with its sort), the last row's sort key and its id,
 * base64url-encoded. A cursor given to another list or sort is refused instead of misread.
 */
export function encodeCursor(scope: string, k: Keyset): string {
  return Buffer.from(JSON.stringify([scope, k.key, k.id])).toString('base64url');
}

const KEY_FORMAT: Record<KeyType, RegExp> = {
  timestamptz: /^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d{1,6})?[+-]\d\d(:\d\d)?|infinity)$/,
  int4: /^-?\d{1,9}$/,
  text: /^[\s\S]{0,500}$/,
};

export function decodeCursor(scope: string, cursor: string | null | undefined, type: KeyType): Keyset | null {
  if (!cursor) return null;
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {}
  if (
    Array.isArray(parsed) &&
    parsed.length === 3 &&
    parsed[0] === scope &&
    typeof parsed[1] === 'string' &&
    KEY_FORMAT[type].test(parsed[1]) &&
    typeof parsed[2] === 'string' &&
    /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(parsed[2])
  ) {
    return { key: parsed[1], id: parsed[2] };
  }
  throw badRequest('cursor: is not a cursor of this list', { cursor: ['is not a cursor of this list'] });
}

/**
 * Turns rows fetched with limit + 1 into a page: the extra row only says whether there is a next page.
 */
export function toPage<R extends { sortKey: string; id: string }, T>(
  scope: string,
  rows: R[],
  limit: number,
  map: (row: R) => T,
): { items: T[]; nextCursor: string | null } {
  const more = rows.length > limit;
  const kept = more ? rows.slice(0, limit) : rows;
  const last = kept.at(-1);
  return {
    items: kept.map(map),
    nextCursor: more && last ? encodeCursor(scope, { key: last.sortKey, id: last.id }) : null,
  };
}
