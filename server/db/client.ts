import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { pg_trgm } from '@electric-sql/pglite/contrib/pg_trgm';
import { vector } from '@electric-sql/pglite-pgvector';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';
import { drizzle } from 'drizzle-orm/postgres-js';
import postgres from 'postgres';
import { schema } from '../../drizzle';
import { sleep } from '../sleep';
import {
  acquireDataDirLock,
  type DataDirHolder,
  DataDirInUseError,
  describeHolder,
  type HeldDataDirLock,
  readLiveHolder,
} from './data-dir-lock';
import { ensurePostgresDriverSafe } from './driver-check';
import { useExchangeQueue } from './pglite-queue';
import type { Db } from './types';

export { type DataDirHolder, DataDirInUseError, describeHolder };

/**
 * Connections the embedded engine's loopback socket accepts. This process uses one (the app pool; pg-boss
 * shares it), a script acting on the running server one more each, and a test runtime attached over the
 * socket a few: pglite-socket resets connections past the limit.
 */
export const EMBEDDED_SOCKET_CONNECTIONS = 8;

/** How long a script waits for a server that holds the data folder but is still starting its engine. */
const ATTACH_WAIT_MS = 30_000;

export interface DatabaseOptions {
  /** Postgres URL; without one an embedded PGlite is started. */
  url: string | undefined;
  poolMax: number;
  prepare: boolean;
  /** Folder for the embedded database, or 'memory://'. */
  dataDir: string;
  /** A data-folder tarball to start a fresh embedded database from (tests use a migrated template). */
  loadDataDir?: Blob;
  /**
   * When another live process holds the embedded data folder: 'refuse' (the default: throw
   * DataDirInUseError) or 'attach' (scripts: connect to that process's engine through its loopback
   * socket, so the change is made in the one engine that owns the folder).
   */
  whenInUse?: 'refuse' | 'attach';
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
  /** Set when this process acts on another process's embedded engine (attached through its socket). */
  attachedTo?: DataDirHolder;
  close(): Promise<void>;
}

/**
 * Opens the database. Everything above this function is the same in both modes: postgres.js under
 * Drizzle. Without a URL, PGlite runs in process behind a loopback Postgres socket. PGlite executes one
 * statement at a time for all connections, so the embedded pool is a single connection: queries queue
 * in order instead of interleaving protocol messages of different clients.
 *
 * A data folder's engine runs in one process only (see data-dir-lock.ts). When another live process
 * holds the folder, this refuses with DataDirInUseError, or with `whenInUse: 'attach'` connects to that
 * process's engine through the loopback socket its lock names.
 */
export async function openDatabase(opts: DatabaseOptions): Promise<Database> {
  ensurePostgresDriverSafe();
  if (opts.url) {
    const sql = createClient(opts.url, { max: opts.poolMax, prepare: opts.prepare });
    return {
      db: drizzleOver(sql, opts.prepare),
      sql,
      mode: 'postgres',
      url: opts.url,
      close: () => sql.end({ timeout: 5 }),
    };
  }

  if (opts.dataDir === 'memory://') return openEngine('memory://', opts.loadDataDir, null);

  // One engine per data folder: the first process to open it holds its lock until it closes or exits.
  mkdirSync(opts.dataDir, { recursive: true });
  const deadline = Date.now() + ATTACH_WAIT_MS;
  for (;;) {
    const lock = acquireDataDirLock(opts.dataDir);
    if ('release' in lock) {
      try {
        const dir = path.join(opts.dataDir, 'pglite');
        mkdirSync(dir, { recursive: true });
        return await openEngine(dir, opts.loadDataDir, lock);
      } catch (err) {
        lock.release();
        throw err;
      }
    }
    if (opts.whenInUse !== 'attach') {
      throw new DataDirInUseError(
        opts.dataDir,
        lock.holder,
        `DATA_DIR ${opts.dataDir} is in use by ${describeHolder(lock.holder)}, which runs its embedded ` +
          `database. Only one process may open it: stop that process first, or use another DATA_DIR.`,
      );
    }
    // The holder publishes its socket once its engine is up; wait for it (or for the lock to go).
    let holder: DataDirHolder | null = lock.holder;
    while (holder && !holder.url && Date.now() < deadline) {
      await sleep(100);
      holder = readLiveHolder(opts.dataDir);
    }
    if (!holder) continue;
    return attach(opts.dataDir, holder);
  }
}

/** Runs the engine in this process behind a loopback socket, publishing the socket in the lock. */
async function openEngine(
  dir: string,
  loadDataDir: Blob | undefined,
  lock: HeldDataDirLock | null,
): Promise<Database> {
  // pg_trgm backs the dashboard's substring search; PGlite ships it as a contrib extension to load.
  // pgvector (its own package) backs the knowledge base's vector search (server/db/queries/knowledge-vector.ts).
  const engine = await PGlite.create(dir, {
    extensions: { pg_trgm, vector },
    ...(loadDataDir ? { loadDataDir } : {}),
  });
  let server: PGLiteSocketServer;
  try {
    server = new PGLiteSocketServer({
      db: engine,
      host: '127.0.0.1',
      port: 0,
      maxConnections: EMBEDDED_SOCKET_CONNECTIONS,
    });
    // Clients take turns by whole exchanges, not single messages: they share one engine session.
    useExchangeQueue(server, engine);
    await server.start();
  } catch (err) {
    await engine.close().catch(() => {});
    throw err;
  }
  const url = `postgres://postgres@${server.getServerConn()}/postgres`;
  lock?.publish(url);
  const sql = createClient(url, { max: 1, prepare: true });
  return {
    db: drizzleOver(sql, true),
    sql,
    mode: 'embedded',
    url,
    embedded: engine,
    async close() {
      try {
        await sql.end({ timeout: 5 });
        await server.stop();
        await engine.close();
      } finally {
        lock?.release();
      }
    },
  };
}

/** Connects to the engine another process runs for this data folder, through its loopback socket. */
async function attach(dataDir: string, holder: DataDirHolder): Promise<Database> {
  const who = describeHolder(holder);
  if (!holder.url) {
    throw new DataDirInUseError(
      dataDir,
      holder,
      `DATA_DIR ${dataDir} is in use by ${who}, which has not opened its database yet. Try again ` +
        `once it has started, or stop it first.`,
    );
  }
  const sql = createClient(holder.url, { max: 1, prepare: true });
  try {
    await sql`select 1`;
  } catch (err) {
    await sql.end({ timeout: 1 }).catch(() => {});
    throw new DataDirInUseError(
      dataDir,
      holder,
      `DATA_DIR ${dataDir} is in use by ${who}, and its database could not be reached through ` +
        `${holder.url} (${err instanceof Error ? err.message : String(err)}). Stop that process and run ` +
        `this again.`,
    );
  }
  return {
    db: drizzleOver(sql, true),
    sql,
    mode: 'embedded',
    url: holder.url,
    attachedTo: holder,
    close: () => sql.end({ timeout: 5 }),
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

/**
 * Drizzle over a postgres.js client. Drizzle sends its statements through `sql.unsafe(text, params)`,
 * which postgres.js runs as unnamed statements: for every statement with parameters it first asks the
 * server for their types and only then binds them, two round trips per query. With `prepare` on (the
 * default; off on a transaction pooler, see DATABASE_PREPARE) this gives Drizzle's statements names,
 * so each connection describes a statement once and every later run is one round trip. Transactions
 * and savepoints hand Drizzle the same view of their connection.
 */
function drizzleOver(sql: postgres.Sql, prepare: boolean): Db {
  const client = prepare ? namedStatements(sql) : sql;
  return drizzle({ client, schema, casing: 'snake_case' });
}

function namedStatements<T extends postgres.Sql | postgres.TransactionSql>(sql: T): T {
  return new Proxy(sql, {
    get(target, prop) {
      if (prop === 'unsafe')
        return (
          text: string,
          params?: postgres.ParameterOrJSON<never>[],
          options?: postgres.UnsafeQueryOptions,
        ) => target.unsafe(text, params, { ...options, prepare: true });
      if (prop === 'begin' || prop === 'savepoint')
        return (...args: unknown[]) => {
          const fn = args.pop() as (tx: postgres.TransactionSql) => unknown;
          return (Reflect.get(target, prop) as (...a: unknown[]) => unknown).call(
            target,
            ...args,
            (tx: postgres.TransactionSql) => fn(namedStatements(tx)),
          );
        };
      const value = Reflect.get(target, prop, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}
