import { z } from 'zod';
import { ZId, ZOk } from './common';
import { ZActor, ZAssignee, ZConversationStatus, ZLabel } from './conversations';

/** The longest snooze: a snoozed conversation opens again within this many days at most. */
export const SNOOZE_MAX_DAYS = 90;

export const ZAssignInput = z.object({
  conversationId: ZId,
  /** The staff member to assign, or null to unassign. */
  staffId: ZId.nullable(),
});
export type TAssignInput = z.infer<typeof ZAssignInput>;

export const ZAssignResult = z.object({ conversationId: ZId, assignee: ZAssignee, changed: z.boolean() });
export type TAssignResult = z.infer<typeof ZAssignResult>;

export const ZSetStatusInput = z
  .object({
    conversationId: ZId,
    status: ZConversationStatus,
    /** Required with `snoozed`: when the conversation opens again (in the future, within 90 days). */
    until: z.date().optional(),
  })
  .refine((v) => v.status !== 'snoozed' || v.until, {
    error: 'a snooze needs until',
    path: ['until'],
  })
  .refine((v) => v.status === 'snoozed' || !v.until, {
    error: 'until is only for snoozed',
    path: ['until'],
  });
export type TSetStatusInput = z.infer<typeof ZSetStatusInput>;

export const ZSetStatusResult = z.object({
  conversationId: ZId,
  status: ZConversationStatus,
  snoozedUntil: z.date().nullable(),
  changed: z.boolean(),
});
export type TSetStatusResult = z.infer<typeof ZSetStatusResult>;

/** Counts for the inbox's sidebar (of the conversations the caller may see). */
export const ZInboxCounts = z.object({
  /** Assigned to the signed-in person (0 for API keys), not resolved. */
  mine: z.number().int(),
  /** Nobody assigned, not resolved. */
  unassigned: z.number().int(),
  /** Every conversation not resolved. */
  all: z.number().int(),
  byStatus: z.object({
    open: z.number().int(),
    pending: z.number().int(),
    resolved: z.number().int(),
    snoozed: z.number().int(),
  }),
});
export type TInboxCounts = z.infer<typeof ZInboxCounts>;

export const ZNote = z.object({
  id: ZId,
  conversationId: ZId,
  body: z.string(),
  author: ZActor,
  createdAt: z.date(),
});
export type TNote = z.infer<typeof ZNote>;

export const ZNoteAddInput = z.object({
  conversationId: ZId,
  body: z.string().trim().min(1, { error: 'body is required' }).max(10_000),
});
export type TNoteAddInput = z.infer<typeof ZNoteAddInput>;
export const ZNoteListInput = z.object({ conversationId: ZId });
export const ZNoteDeleteInput = z.object({ conversationId: ZId, noteId: ZId });
export type TNoteDeleteInput = z.infer<typeof ZNoteDeleteInput>;
export const ZNoteList = z.object({ items: z.array(ZNote) });

/** At most this many labels on one conversation. */
export const MAX_LABELS = 20;

export const ZLabelsSetInput = z.object({
  conversationId: ZId,
  labels: z.array(ZLabel).max(MAX_LABELS),
});
export type TLabelsSetInput = z.infer<typeof ZLabelsSetInput>;
export const ZLabelsChangeInput = z.object({
  conversationId: ZId,
  labels: z.array(ZLabel).min(1).max(MAX_LABELS),
});
export type TLabelsChangeInput = z.infer<typeof ZLabelsChangeInput>;
export const ZLabelsResult = z.object({
  conversationId: ZId,
  labels: z.array(z.string()),
  changed: z.boolean(),
});
export type TLabelsResult = z.infer<typeof ZLabelsResult>;

/** The variables a canned response may use, written `{{name}}`. */
export const CANNED_VARIABLES = ['name', 'first_name', 'agent_name', 'business_name'] as const;

const ZCannedCode = z
  .string()
  .trim()
  .toLowerCase()
  .regex(/^[a-z0-9][a-z0-9_-]{0,31}$/, { error: 'a code is 1-32 letters, digits, - or _' });
const ZCannedText = z.string().trim().min(1, { error: 'text is required' }).max(4096);

export const ZCannedResponse = z.object({
  id: ZId,
  code: z.string(),
  text: z.string(),
  createdAt: z.date(),
  updatedAt: z.date(),
});
export type TCannedResponse = z.infer<typeof ZCannedResponse>;
export const ZCannedResponseList = z.object({ items: z.array(ZCannedResponse) });
export const ZCannedResponseCreateInput = z.object({ code: ZCannedCode, text: ZCannedText });
export type TCannedResponseCreateInput = z.infer<typeof ZCannedResponseCreateInput>;
export const ZCannedResponseUpdateInput = z.object({
  id: ZId,
  code: ZCannedCode.optional(),
  text: ZCannedText.optional(),
});
export type TCannedResponseUpdateInput = z.infer<typeof ZCannedResponseUpdateInput>;
export const ZCannedResponseDeleteInput = z.object({ id: ZId });

export const ZInboxOk = ZOk;

/** stats.agents: one period (default: the last 7 days). */
export const ZAgentStatsInput = z
  .object({ from: z.date().optional(), to: z.date().optional() })
  .refine((p) => !p.from || !p.to || p.from < p.to, { error: 'from must be before to', path: ['to'] })
  .default({});
export type TAgentStatsInput = z.infer<typeof ZAgentStatsInput>;

const ZDurations = z.object({
  /** Milliseconds; null when there was nothing to measure. */
  median: z.number().nullable(),
  p90: z.number().nullable(),
});

export const ZAgentStats = z.object({
  from: z.date(),
  to: z.date(),
  agents: z.array(
    z.object({
      staffId: ZId,
      name: z.string(),
      role: z.enum(['admin', 'agent']),
      active: z.boolean(),
      available: z.boolean(),
      /** Conversations the person sent at least one message in, in the period. */
      conversationsHandled: z.number().int(),
      messagesSent: z.number().int(),
      /** From a handoff (or the first customer message to a person) to the person's first reply. */
      firstResponseMs: ZDurations,
      /** From the handoff (or first customer message to a person) to resolving, by the resolver. */
      resolutionMs: ZDurations,
      /** Conversations assigned now, by status. */
      load: z.object({ open: z.number().int(), pending: z.number().int() }),
    }),
  ),
});
export type TAgentStats = z.infer<typeof ZAgentStats>;
