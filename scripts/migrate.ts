import { ConfigError, loadConfig } from '../server/config';
import { openDatabase } from '../server/db/client';
import { runMigrations } from '../server/db/migrate';

/** Applies pending migrations to the configured database (the server also does this at startup). */
try {
  const config = loadConfig();
  const database = await openDatabase(config.database);
  try {
    await runMigrations(database);
    process.stdout.write(`Migrations applied (${database.mode} database).\n`);
  } finally {
    await database.close();
  }
} catch (err) {
  if (err instanceof ConfigError) {
    process.stderr.write(`${err.message}\n`);
    process.exit(1);
  }
  throw err;
}
