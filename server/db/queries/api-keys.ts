import { and, count, desc, eq, isNull } from 'drizzle-orm';
import type { Role } from '../../../drizzle';
import { apiKeys } from '../../../drizzle';
import type { DbOrTx } from '../types';

const publicColumns = {
  id: apiKeys.id,
  name: apiKeys.name,
  prefix: apiKeys.prefix,
  role: apiKeys.role,
  createdAt: apiKeys.createdAt,
  lastUsedAt: apiKeys.lastUsedAt,
  revokedAt: apiKeys.revokedAt,
};

export async function insertApiKey(
  db: DbOrTx,
  row: { name: string; prefix: string; hash: string; role: Role },
) {
  const [created] = await db.insert(apiKeys).values(row).returning(publicColumns);
  return created!;
}

export function listApiKeys(db: DbOrTx) {
  return db.select(publicColumns).from(apiKeys).orderBy(desc(apiKeys.createdAt));
}

export async function findActiveKeyByHash(db: DbOrTx, hash: string) {
  const [row] = await db
    .select({ id: apiKeys.id, name: apiKeys.name, role: apiKeys.role })
    .from(apiKeys)
    .where(and(eq(apiKeys.hash, hash), isNull(apiKeys.revokedAt)))
    .limit(1);
  return row ?? null;
}

export async function revokeApiKey(db: DbOrTx, id: string) {
  const [row] = await db
    .update(apiKeys)
    .set({ revokedAt: new Date() })
    .where(and(eq(apiKeys.id, id), isNull(apiKeys.revokedAt)))
    .returning(publicColumns);
  return row ?? null;
}

export async function touchApiKey(db: DbOrTx, id: string, at: Date) {
  await db.update(apiKeys).set({ lastUsedAt: at }).where(eq(apiKeys.id, id));
}

export async function countApiKeys(db: DbOrTx) {
  const [row] = await db.select({ n: count() }).from(apiKeys);
  return row?.n ?? 0;
}

export async function findApiKey(db: DbOrTx, id: string) {
  const [row] = await db.select(publicColumns).from(apiKeys).where(eq(apiKeys.id, id)).limit(1);
  return row ?? null;
}
