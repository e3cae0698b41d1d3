import { ConfigError, loadConfig } from '../server/config';
import { DataDirInUseError, describeHolder, openDatabase } from '../server/db/client';
import { runMigrations } from '../server/db/migrate';
import { parseCli } from './lib/command-line';

/**
 * Applies pending migrations to the configured database (the server also does this at startup). An
 * embedded data folder held by a running server is migrated through that server's engine.
 */
parseCli({
  usage: 'Usage: npm run db:migrate (the database is the one DATABASE_URL or DATA_DIR names)',
  options: {},
});

try {
  const config = loadConfig();
  const database = await openDatabase({ ...config.database, whenInUse: 'attach' });
  try {
    await runMigrations(database);
    const through = database.attachedTo ? `, through ${describeHolder(database.attachedTo)}` : '';
    process.stdout.write(`Migrations applied (${database.mode} database${through}).\n`);
  } finally {
    await database.close();
  }
} catch (err) {
  if (err instanceof ConfigError || err instanceof DataDirInUseError) {
    process.stderr.write(`${err.message}\n`);
    process.exit(1);
  }
  throw err;
}
