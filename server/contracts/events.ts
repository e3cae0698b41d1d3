import { z } from 'zod';
import { ZId } from './common';
import { ZConversationStatus, ZMessageAuthor, ZMessageDirection, ZOwner } from './conversations';
import { ZDealStage } from './deals';

/** The fields of a contact an update changed (names only, never values). */
const ZContactField = z.enum([
  'phone',
  'name',
  'email',
  'company',
  'position',
  'leadStatus',
  'source',
  'tags',
  'notes',
]);
/** The fields of a deal an update changed (names only; stage changes are `deal.stage_changed`). */
const ZDealField = z.enum(['title', 'value', 'currency', 'probability', 'expectedCloseAt']);

/**
 * What the dashboards are told about, in order, through `conversations.events`, and what outbound
 * webhooks can subscribe to. CRM events carry ids and the names of changed fields, never whole records.
 */
export const ZAppEvent = z.discriminatedUnion('type', [
  z.object({
    type: z.literal('message.created'),
    conversationId: ZId,
    messageId: ZId,
    direction: ZMessageDirection,
    author: ZMessageAuthor,
  }),
  z.object({
    type: z.literal('message.status'),
    conversationId: ZId,
    messageId: ZId,
    status: z.string(),
  }),
  z.object({
    type: z.literal('conversation.owner'),
    conversationId: ZId,
    owner: ZOwner,
    reason: z.string().nullable(),
  }),
  z.object({ type: z.literal('conversation.updated'), conversationId: ZId }),
  /** The conversation was assigned to a person (`assigneeId`) or unassigned (null). */
  z.object({
    type: z.literal('conversation.assigned'),
    conversationId: ZId,
    assigneeId: ZId.nullable(),
    assigneeName: z.string().nullable(),
  }),
  /** The conversation's status changed (a person, a new customer message, a snooze that ended). */
  z.object({
    type: z.literal('conversation.status'),
    conversationId: ZId,
    status: ZConversationStatus,
    snoozedUntil: z.string().nullable(),
  }),
  /** A private note was added to or deleted from the conversation (the text is read with notes.list). */
  z.object({
    type: z.literal('conversation.note'),
    conversationId: ZId,
    noteId: ZId,
    action: z.enum(['added', 'deleted']),
  }),
  z.object({ type: z.literal('conversation.labels'), conversationId: ZId, labels: z.array(z.string()) }),
  z.object({ type: z.literal('campaign.progress'), campaignId: ZId }),
  /** A `leads.rescore` run finished; `leads.rescoreStatus` has its counts. */
  z.object({
    type: z.literal('leads.rescore'),
    runId: ZId,
    status: z.enum(['completed', 'failed']),
  }),
  /** The server disabled an outbound webhook subscription after sustained delivery failure. */
  z.object({ type: z.literal('webhook.disabled'), subscriptionId: ZId, reason: z.string() }),

  /** A contact was created by hand or through the API (imports send one `contact.imported` per run). */
  z.object({ type: z.literal('contact.created'), contactId: ZId }),
  /** Fields of a contact changed (an edit, tags added or removed, a lead status set). */
  z.object({ type: z.literal('contact.updated'), contactId: ZId, fields: z.array(ZContactField) }),
  /** A contact was deleted (soft delete: its phone stays taken). */
  z.object({ type: z.literal('contact.deleted'), contactId: ZId }),
  /** The contact asked for no more messages (a STOP keyword) in this conversation. */
  z.object({ type: z.literal('contact.opted_out'), contactId: ZId, conversationId: ZId }),
  /** The contact asked for messages again (a START keyword) in this conversation. */
  z.object({ type: z.literal('contact.opted_in'), contactId: ZId, conversationId: ZId }),
  /**
   * A CSV import run created contacts: one event per run with its counts (no `contact.created` per
   * row). `created` contacts are new; the other counts are rows that created nothing.
   */
  z.object({
    type: z.literal('contact.imported'),
    created: z.number().int(),
    skippedExisting: z.number().int(),
    existing: z.number().int(),
    duplicate: z.number().int(),
    invalid: z.number().int(),
  }),
  z.object({ type: z.literal('deal.created'), dealId: ZId, contactId: ZId }),
  /** Fields of a deal other than its stage changed. */
  z.object({
    type: z.literal('deal.updated'),
    dealId: ZId,
    contactId: ZId,
    fields: z.array(ZDealField),
  }),
  z.object({
    type: z.literal('deal.stage_changed'),
    dealId: ZId,
    contactId: ZId,
    from: ZDealStage,
    to: ZDealStage,
  }),
  /** A deal was deleted (soft delete). */
  z.object({ type: z.literal('deal.deleted'), dealId: ZId, contactId: ZId }),
  /** A task was created; `conversationId` is set when it belongs to a conversation. */
  z.object({
    type: z.literal('task.created'),
    taskId: ZId,
    contactId: ZId.nullable(),
    dealId: ZId.nullable(),
    conversationId: ZId.nullable(),
  }),
  z.object({
    type: z.literal('task.completed'),
    taskId: ZId,
    contactId: ZId.nullable(),
    dealId: ZId.nullable(),
    conversationId: ZId.nullable(),
  }),
  /** Someone logged an activity (a call, a meeting, a note) on a contact's timeline. */
  z.object({
    type: z.literal('activity.logged'),
    activityId: ZId,
    /** The activity's kind as logged, e.g. note, call, meeting. */
    activityType: z.string(),
    contactId: ZId,
    dealId: ZId.nullable(),
  }),
]);
export type TAppEvent = z.infer<typeof ZAppEvent>;

/** What a subscription yields: the event and when it happened; the tracked id is the event's id. */
export type TStreamedEvent = z.infer<typeof ZAppEvent> & { at: Date };
