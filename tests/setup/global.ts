import { writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { TestProject } from 'vitest/node';
import { openDatabase } from '../../server/db/client';
import { runMigrations } from '../../server/db/migrate';
import { startJobQueue } from '../../server/jobs/queue';
import { silentLogger } from '../helpers/log';

declare module 'vitest' {
  export interface ProvidedContext {
    pgliteTemplate: string | null;
  }
}

/**
 * Without DATABASE_URL the suite runs on PGlite. Creating a PGlite cluster takes seconds, so it is done
 * once here: migrated, with the job queue's schema, and saved as a data-folder snapshot that every test
 * file starts its own database from.
 */
export default async function setup(project: TestProject) {
  if (process.env.DATABASE_URL) {
    project.provide('pgliteTemplate', null);
    return;
  }
  const database = await openDatabase({ url: undefined, poolMax: 1, prepare: true, dataDir: 'memory://' });
  await runMigrations(database);
  const queue = await startJobQueue(database, silentLogger, { supervise: false });
  await queue.stop();
  const dump = await database.embedded!.dumpDataDir('none');
  const file = path.join(os.tmpdir(), `wcb-pglite-template-${process.pid}.tar`);
  await writeFile(file, Buffer.from(await dump.arrayBuffer()));
  await database.close();
  project.provide('pgliteTemplate', file);
}
