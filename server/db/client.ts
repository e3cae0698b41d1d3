import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { pg_trgm } from '@electric-sql/pglite/contrib/pg_trgm';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';
import { drizzle } from 'drizzle-orm/postgres-js';
import postgres from 'postgres';
import { schema } from '../../drizzle';
import type { Db } from './types';

export interface DatabaseOptions {
  /** Postgres URL; without one an embedded PGlite is started. */
  url: string | undefined;
  poolMax: number;
  prepare: boolean;
  /** Folder for the embedded database, or 'memory://'. */
  dataDir: string;
  /** A data-folder tarball to start a fresh embedded database from (tests use a migrated template). */
  loadDataDir?: Blob;
}

export interface Database {
  db: Db;
  /** The postgres.js client under Drizzle, for raw statements (pg-boss, LISTEN/NOTIFY). */
  sql: postgres.Sql;
  mode: 'embedded' | 'postgres';
  /** The URL this process connects to (for the embedded database: its loopback socket). */
  url: string;
  /** The embedded engine, when there is one (used to snapshot the data folder in tests). */
  embedded?: PGlite;
  close(): Promise<void>;
}

/**
 * Opens the database. Everything above this function is the same in both modes: postgres.js under
 * Drizzle. Without a URL, PGlite runs in process behind a loopback Postgres socket. PGlite executes one
 * statement at a time for all connections, so the embedded pool is a single connection: queries queue
 * in order instead of interleaving protocol messages of different clients.
 */
export async function openDatabase(opts: DatabaseOptions): Promise<Database> {
  if (opts.url) {
    const sql = createClient(opts.url, { max: opts.poolMax, prepare: opts.prepare });
    return {
      db: drizzle({ client: sql, schema, casing: 'snake_case' }),
      sql,
      mode: 'postgres',
      url: opts.url,
      close: () => sql.end({ timeout: 5 }),
    };
  }

  let dataDir = opts.dataDir;
  if (dataDir !== 'memory://') {
    dataDir = path.join(dataDir, 'pglite');
    mkdirSync(dataDir, { recursive: true });
  }
  // pg_trgm backs the dashboard's substring search; PGlite ships it as a contrib extension to load.
  const engine = await PGlite.create(dataDir, {
    extensions: { pg_trgm },
    ...(opts.loadDataDir ? { loadDataDir: opts.loadDataDir } : {}),
  });
  const server = new PGLiteSocketServer({ db: engine, host: '127.0.0.1', port: 0, maxConnections: 4 });
  await server.start();
  const url = `postgres://postgres@${server.getServerConn()}/postgres`;
  const sql = createClient(url, { max: 1, prepare: true });
  return {
    db: drizzle({ client: sql, schema, casing: 'snake_case' }),
    sql,
    mode: 'embedded',
    url,
    embedded: engine,
    async close() {
      await sql.end({ timeout: 5 });
      await server.stop();
      await engine.close();
    },
  };
}

function createClient(url: string, opts: { max: number; prepare: boolean }) {
  return postgres(url, {
    max: opts.max,
    prepare: opts.prepare,
    onnotice: () => {},
    connect_timeout: 10,
    idle_timeout: 60,
    connection: { application_name: 'whatsapp-crm-bot' },
  });
}
