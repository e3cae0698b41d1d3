import type { ExtractTablesWithRelations } from 'drizzle-orm';
import type { PgTransaction } from 'drizzle-orm/pg-core';
import type { PostgresJsDatabase, PostgresJsQueryResultHKT } from 'drizzle-orm/postgres-js';
import type { Sql } from 'postgres';
import type { Schema } from '../../drizzle';

/** The Drizzle database with its postgres.js client (for statements sent by hand, such as named prepared ones). */
export type Db = PostgresJsDatabase<Schema> & { $client: Sql };
export type Tx = PgTransaction<PostgresJsQueryResultHKT, Schema, ExtractTablesWithRelations<Schema>>;
/** Query functions take either the pool or an open transaction, so callers decide the boundary. */
export type DbOrTx = Db | Tx;
