import { getTableColumns, type SQL, type Table } from 'drizzle-orm';
import type { DbOrTx } from '../types';

export type Executable<T> = { execute(values?: Record<string, unknown>): Promise<T> };

/**
 * A query built and rendered once, then sent as an unnamed statement on every call: Postgres plans
 * it each time with the call's values, exactly as Drizzle sends an ad-hoc query (Drizzle's own
 * execute() is this same prepared query without a name); only the building is saved. Values go in
 * as `sql.placeholder(name)` and are given to `execute({ name: value })`.
 */
export function unnamed<T>(query: { prepare(name: string): Executable<T> }): Executable<T> {
  // No name: the driver sends an unnamed statement (prepare: false).
  return query.prepare(undefined as unknown as string);
}

/**
 * Drizzle's prepared query over postgres.js keeps the connection it runs on in `client`, and a
 * database handle (the pool or a transaction) keeps its connection in `session.client`. A statement
 * built once is run on a handle by giving a thin copy of it that handle's connection: the rendered
 * text, parameters and result mapping are shared.
 */
type Bindable<T> = Executable<T> & { client: unknown };
type Handle = { session: { client: unknown; prepareQuery: (...args: unknown[]) => unknown } };
type WithDialect = { dialect: { sqlToQuery(sql: SQL): unknown } };

function connectionOf(db: DbOrTx): unknown {
  const client = (db as unknown as Handle).session?.client;
  if (!client) throw new Error('prepared statements: this database handle has no session client');
  return client;
}

function bindable<T>(query: Executable<T>): Bindable<T> {
  if (!('client' in (query as object))) {
    throw new Error('prepared statements: the driver query keeps no client (drizzle-orm changed?)');
  }
  return query as Bindable<T>;
}

function bind<T>(template: Bindable<T>, db: DbOrTx): Executable<T> {
  const client = connectionOf(db);
  if (template.client === client) return template;
  const copy = Object.create(template) as Bindable<T>;
  copy.client = client;
  return copy;
}

/**
 * A hot statement whose shape never changes, built and rendered once for the process and run on
 * whichever handle a call gives (the pool, or a transaction's connection): building a Drizzle query
 * costs more CPU than Postgres spends answering a small one. Values go in as
 * `sql.placeholder(name)`; the column's own encoding still applies to them.
 */
export function builtOnce<T>(build: (db: DbOrTx) => { prepare(name: string): Executable<T> }) {
  let template: Bindable<T> | null = null;
  return (db: DbOrTx): Executable<T> => {
    if (!template) {
      const query = build(db);
      refuseBuildTimeValues(query);
      template = bindable(unnamed(query));
    }
    return bind(template, db);
  };
}

/**
 * An update that leaves a column with an `$onUpdate` function (updated_at) unset would get that
 * function's value once, when built, and write it on every later call: such a statement must set
 * the column itself from a placeholder.
 */
function refuseBuildTimeValues(query: unknown) {
  const config = (query as { config?: { table?: Table; set?: Record<string, unknown> } }).config;
  if (!config?.table || !config.set) return;
  for (const [key, column] of Object.entries(getTableColumns(config.table))) {
    if ((column as { onUpdateFn?: unknown }).onUpdateFn !== undefined && config.set[key] === undefined) {
      throw new Error(`builtOnce: this update must set ${key} per call (its $onUpdate value would be fixed)`);
    }
  }
}

/**
 * `builtOnce` for a raw `sql` statement: rendered once, run like `db.execute(...)` (rows as
 * postgres.js returns them). Values go in as `sql.placeholder(name)`.
 */
export function rawOnce<T = Record<string, unknown>[]>(build: () => SQL) {
  let template: Bindable<T> | null = null;
  return (db: DbOrTx): Executable<T> => {
    if (!template) {
      const query = (db as unknown as WithDialect).dialect.sqlToQuery(build());
      const prepared = (db as unknown as Handle).session.prepareQuery(query, undefined, undefined, false);
      template = bindable(prepared as Executable<T>);
    }
    return bind(template, db);
  };
}
