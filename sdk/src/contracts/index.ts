/**
 * The server's zod contracts: the same schemas the API validates its inputs and outputs with, so forms can
 * check a value before sending it. The contracts import zod only.
 */
export * from '../../server/contracts';
