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
 * `build` run once per database handle (the pool, or a transaction while it lasts), for the hot
 * reads whose shape never changes: building a Drizzle query costs more CPU than Postgres spends
 * answering a small one.
 */
export function builtOnce<T>(build: (db: DbOrTx) => { prepare(name: string): Executable<T> }) {
  const built = new WeakMap<DbOrTx, Executable<T>>();
  return (db: DbOrTx): Executable<T> => {
    let q = built.get(db);
    if (!q) {
      q = unnamed(build(db));
      built.set(db, q);
    }
    return q;
  };
}
