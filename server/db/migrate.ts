import { fileURLToPath } from 'node:url';
import { migrate } from 'drizzle-orm/postgres-js/migrator';
import type { Database } from './client';

export const MIGRATIONS_FOLDER = fileURLToPath(new URL('../../migrations', import.meta.url));

/** Any fixed number: the advisory lock that lets one process at a time apply migrations. */
const MIGRATION_LOCK = 7_300_451;

/**
 * Applies pending migrations. On a shared Postgres several processes may start together, so the
 * migration runs under an advisory lock held on one reserved connection.
 */
export async function runMigrations(database: Database): Promise<void> {
  if (database.mode === 'embedded') {
    await migrate(database.db, { migrationsFolder: MIGRATIONS_FOLDER });
    return;
  }
  const reserved = await database.sql.reserve();
  try {
    await reserved`select pg_advisory_lock(${MIGRATION_LOCK})`;
    try {
      await migrate(database.db, { migrationsFolder: MIGRATIONS_FOLDER });
    } finally {
      await reserved`select pg_advisory_unlock(${MIGRATION_LOCK})`;
    }
  } finally {
    reserved.release();
  }
}
