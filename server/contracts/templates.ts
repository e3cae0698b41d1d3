import { z } from 'zod';

/** A WhatsApp Cloud API message template, as last synced from the business account. */
export const ZMessageTemplate = z.object({
  id: z.string(),
  name: z.string(),
  language: z.string(),
  category: z.string().nullable(),
  /** APPROVED, PENDING, REJECTED, PAUSED, DISABLED, ... as Meta reports it; only APPROVED ones are sent. */
  status: z.string(),
  /** How many body values (`{{1}}`, `{{2}}`, ...) a send must give. */
  bodyVariables: z.number().int(),
  syncedAt: z.date(),
});
export type TMessageTemplate = z.infer<typeof ZMessageTemplate>;

export const ZMessageTemplateList = z.object({ items: z.array(ZMessageTemplate) });
export type TMessageTemplateList = z.infer<typeof ZMessageTemplateList>;

export const ZTemplatesSyncResult = z.object({
  /** Templates the business account lists now. */
  synced: z.number().int(),
  /** Stored templates no longer listed (removed). */
  removed: z.number().int(),
});
export type TTemplatesSyncResult = z.infer<typeof ZTemplatesSyncResult>;

/**
 * An approved template to send instead of free-form text where the 24-hour window is closed. Each of
 * `variables` is the value of the body's `{{1}}`, `{{2}}`, ... in order, written like campaign text: a
 * contact field (`{{name}}`, `{{name|there}}`, `{{company}}`), a CSV column, or plain words.
 */
export const ZTemplateUse = z.object({
  name: z
    .string()
    .trim()
    .regex(/^[a-z0-9_]{1,512}$/, { error: 'a template name is lower-case letters, digits and _' }),
  language: z
    .string()
    .trim()
    .regex(/^[a-z]{2,3}(_[A-Za-z]{2,4})?$/, { error: 'a language code such as en or en_US' }),
  variables: z.array(z.string().trim().min(1).max(1000)).max(20).default([]),
});
export type TTemplateUse = z.infer<typeof ZTemplateUse>;
