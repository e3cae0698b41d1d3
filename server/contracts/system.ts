import { z } from 'zod';
import { ZId, ZPageInput, zPage } from './common';

/**
 * Dead letters: what the WhatsApp gateway sent that could not be handled (a sender with no usable
 * number, an entry the parser refused, a write the database refused), kept with the raw item and the
 * reason. Admins list them, retry them once the cause is fixed, or dismiss them.
 */
export const ZDeadLetterFilter = z.enum(['open', 'all']);
export type TDeadLetterFilter = z.infer<typeof ZDeadLetterFilter>;

export const ZDeadLettersInput = ZPageInput.extend({
  /** `open` (default): not yet resolved or dismissed; `all`: every dead letter. */
  filter: ZDeadLetterFilter.default('open'),
}).default({ limit: 25, filter: 'open' });
export type TDeadLettersInput = z.infer<typeof ZDeadLettersInput>;

export const ZDeadLetter = z.object({
  id: ZId,
  /** Where the item came from, for example `wasender.webhook`. */
  source: z.string(),
  reason: z.string(),
  /** The item as received: a one-entry webhook body `{ event, data }`, sanitised for storage. */
  raw: z.unknown(),
  providerMessageId: z.string().nullable(),
  /** Retries attempted so far, and the error of the last one (null when it succeeded). */
  attempts: z.number().int(),
  lastError: z.string().nullable(),
  lastAttemptAt: z.date().nullable(),
  /** When a retry stored the item or an admin dismissed it; null while open. */
  resolvedAt: z.date().nullable(),
  createdAt: z.date(),
});
export type TDeadLetter = z.infer<typeof ZDeadLetter>;

export const ZDeadLetterPage = zPage(ZDeadLetter);
export type TDeadLetterPage = z.infer<typeof ZDeadLetterPage>;

export const ZDeadLetterIdInput = z.object({ id: ZId });
export type TDeadLetterIdInput = z.infer<typeof ZDeadLetterIdInput>;

export const ZRetriedDeadLetter = z.object({
  /** True when the retry handled the item (it is resolved now). */
  resolved: z.boolean(),
  /** What the retry did, or why it failed again. */
  detail: z.string(),
  deadLetter: ZDeadLetter,
});
export type TRetriedDeadLetter = z.infer<typeof ZRetriedDeadLetter>;
