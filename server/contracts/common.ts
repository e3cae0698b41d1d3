import { z } from 'zod';

/** Shared pieces of the API's contracts. This folder imports zod only: the sdk re-exports it. */

export const ZId = z.uuid({ error: 'must be a UUID' });

export const ZRole = z.enum(['admin', 'agent']);
export type TRole = z.infer<typeof ZRole>;

export const ZPageInput = z.object({
  limit: z.number().int().min(1).max(100).default(25),
  /** Opaque cursor from the previous page's nextCursor. */
  cursor: z.string().max(200).nullish(),
});

export const ZOk = z.object({ ok: z.literal(true) });
