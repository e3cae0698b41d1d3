import { z } from 'zod';
import { ZId, ZPageInput, zPage } from './common';

export const ZActivity = z.object({
  id: ZId,
  contactId: ZId,
  dealId: ZId.nullable(),
  type: z.string(),
  summary: z.string(),
  metadata: z.record(z.string(), z.unknown()).nullable(),
  actorType: z.string(),
  actorId: z.string().nullable(),
  /** The staff member's or API key's name at the time (null for older rows, the bot and the system). */
  actorName: z.string().nullable(),
  occurredAt: z.date(),
  createdAt: z.date(),
});
export type TActivity = z.infer<typeof ZActivity>;

export const ZActivityListInput = ZPageInput.extend({
  contactId: ZId.optional(),
  dealId: ZId.optional(),
  type: z.string().trim().min(1).max(50).optional(),
}).default({ limit: 25 });
export type TActivityListInput = z.infer<typeof ZActivityListInput>;
export const ZActivityPage = zPage(ZActivity);

export const ZActivityCreateInput = z.object({
  contactId: ZId,
  dealId: ZId.nullish(),
  /** What happened, e.g. note, call, meeting, email. */
  type: z
    .string()
    .trim()
    .regex(/^[a-z][a-z0-9_]{0,49}$/, { error: 'must be a lower-case word such as note or call' }),
  summary: z.string().trim().min(1, { error: 'summary is required' }).max(5000),
  metadata: z.record(z.string(), z.unknown()).optional(),
  occurredAt: z.date().optional(),
});
export type TActivityCreateInput = z.infer<typeof ZActivityCreateInput>;

/** One entry of a contact's timeline: an activity, a deal change, or a message. */
export const ZTimelineItem = z.object({
  kind: z.enum(['activity', 'deal', 'message']),
  id: ZId,
  at: z.date(),
  /** Activity or deal-change type, or the message's direction. */
  type: z.string(),
  /** Activity summary or message text. */
  text: z.string().nullable(),
  dealId: ZId.nullable(),
  actorType: z.string().nullable(),
  metadata: z.record(z.string(), z.unknown()).nullable(),
});
export type TTimelineItem = z.infer<typeof ZTimelineItem>;

export const ZTimelineInput = ZPageInput.extend({ contactId: ZId });
export const ZTimelinePage = zPage(ZTimelineItem);
