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

/** A page of a list, in a stable order; pass nextCursor back as cursor for the next page (null: no more). */
export const zPage = <T extends z.ZodType>(item: T) =>
  z.object({ items: z.array(item), nextCursor: z.string().nullable() });

/** Free-text search within a list: matched as a case-insensitive substring. */
export const ZTextQuery = z.string().trim().min(1).max(100);

/** A tag as stored on contacts. */
export const ZTag = z.string().trim().min(1).max(50);

/** Money as an exact decimal string (never a float): up to 12 digits and 2 decimals. */
export const ZMoney = z
  .string()
  .trim()
  .regex(/^\d{1,12}(\.\d{1,2})?$/, { error: 'must be an amount such as 1250 or 1250.50' });

/** A time range [from, to); either end may be left open. */
export const ZPeriod = z
  .object({ from: z.date().optional(), to: z.date().optional() })
  .refine((p) => !p.from || !p.to || p.from < p.to, { error: 'from must be before to', path: ['to'] });
