import * as relations from './relations';
import * as tables from './schema';

export * from './relations';
export * from './schema';

/** Tables and relations together, as Drizzle's relational queries want them. */
export const schema = { ...tables, ...relations };
export type Schema = typeof schema;
