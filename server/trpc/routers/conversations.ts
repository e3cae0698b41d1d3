import { tracked } from '@trpc/server';
import {
  ZAssignInput,
  ZAssignResult,
  ZConversationDetail,
  ZConversationEventsInput,
  ZConversationGetInput,
  ZConversationListInput,
  ZConversationMessagesInput,
  ZConversationPage,
  ZConversationSearchInput,
  ZInboxCounts,
  ZLabelsChangeInput,
  ZLabelsResult,
  ZLabelsSetInput,
  ZMarkReadInput,
  ZMarkReadResult,
  ZMediaUrl,
  ZMediaUrlInput,
  ZMessagePage,
  ZNote,
  ZNoteAddInput,
  ZNoteDeleteInput,
  ZNoteList,
  ZNoteListInput,
  ZOk,
  ZQueuedMessages,
  ZSearchResult,
  ZSendMediaInput,
  ZSendMessageInput,
  ZSetStatusInput,
  ZSetStatusResult,
  ZStartConversationInput,
} from '../../contracts';
import { router } from '../init';
import { authedProcedure } from '../procedures';

export const conversationsRouter = router({
  /** The inbox, newest activity first, filtered as the dashboard asks. */
  list: authedProcedure
    .meta({ openapi: { method: 'GET', path: '/conversations' } })
    .input(ZConversationListInput)
    .output(ZConversationPage)
    .query(({ ctx, input }) => ctx.services.conversations.list(input, ctx.caller)),
  /** A conversation with its contact, latest owner changes and open handoff. */
  get: authedProcedure
    .meta({ openapi: { method: 'GET', path: '/conversations/{id}' } })
    .input(ZConversationGetInput)
    .output(ZConversationDetail)
    .query(({ ctx, input }) => ctx.services.conversations.get(input.id, ctx.caller)),
  /** Messages, newest first, with delivery status and AI usage. */
  messages: authedProcedure
    .meta({ openapi: { method: 'GET', path: '/conversations/{conversationId}/messages' } })
    .input(ZConversationMessagesInput)
    .output(ZMessagePage)
    .query(({ ctx, input }) => ctx.services.conversations.messages(input, ctx.caller)),
  /** Contacts by name, phone, email or company, and messages by text. */
  search: authedProcedure
    .meta({ openapi: { method: 'GET', path: '/search' } })
    .input(ZConversationSearchInput)
    .output(ZSearchResult)
    .query(({ ctx, input }) => ctx.services.conversations.search(input, ctx.caller)),
  markRead: authedProcedure
    .meta({ openapi: { method: 'POST', path: '/conversations/{conversationId}/read' } })
    .input(ZMarkReadInput)
    .output(ZMarkReadResult)
    .mutation(({ ctx, input }) => ctx.services.conversations.markRead(input.conversationId, ctx.caller)),
  /**
   * New messages, status changes, owner changes and conversation updates, as they happen in any
   * process. Each event is tracked by its id, so a reconnecting client resumes after the last one it
   * saw (the client sends `lastEventId` by itself).
   */
  events: authedProcedure.input(ZConversationEventsInput).subscription(async function* ({
    ctx,
    input,
    signal,
  }) {
    const { visibility } = ctx.services;
    const limited = visibility.limitOf(ctx.caller) !== undefined;
    // Only a limited agent is checked before the stream starts (a caller who sees everything needs
    // no round trip here, and the stream's live start is not delayed by one).
    if (input.conversationId && limited) await visibility.require(input.conversationId, ctx.caller);
    const stream = ctx.services.events.stream({
      conversationId: input.conversationId,
      lastEventId: input.lastEventId ? Number(input.lastEventId) : null,
      signal,
    });
    for await (const e of stream) {
      // With AGENT_VISIBILITY=assigned, an agent hears only of conversations they may see.
      const conversationId = 'conversationId' in e.event ? e.event.conversationId : undefined;
      if (
        limited &&
        conversationId &&
        !(await visibility.require(conversationId, ctx.caller).then(
          () => true,
          () => false,
        ))
      )
        continue;
      yield tracked(String(e.id), { ...e.event, at: e.at });
    }
  }),
  /** Messages from staff: an agent's reply, or a new conversation with a phone number. */
  sendMessage: authedProcedure
    .meta({ openapi: { method: 'POST', path: '/conversations/{conversationId}/messages' } })
    .input(ZSendMessageInput)
    .output(ZQueuedMessages)
    .mutation(({ ctx, input }) => ctx.services.messaging.sendMessage(input, ctx.caller)),
  /** An agent's file (image, document, audio, video; base64) with an optional caption. */
  sendMedia: authedProcedure
    .meta({ openapi: { method: 'POST', path: '/conversations/{conversationId}/media' } })
    .input(ZSendMediaInput)
    .output(ZQueuedMessages)
    .mutation(({ ctx, input }) => ctx.services.media.sendMedia(input, ctx.caller)),
  /** A short-lived signed link to a message's file (GET it without credentials until it expires). */
  mediaUrl: authedProcedure
    .meta({ openapi: { method: 'GET', path: '/messages/{messageId}/media-url' } })
    .input(ZMediaUrlInput)
    .output(ZMediaUrl)
    .query(({ ctx, input }) => ctx.services.media.url(input, ctx.caller)),
  /** Assigns the conversation to a staff member, or unassigns it (staffId null). */
  assign: authedProcedure
    .meta({ openapi: { method: 'POST', path: '/conversations/{conversationId}/assign' } })
    .input(ZAssignInput)
    .output(ZAssignResult)
    .mutation(({ ctx, input }) => ctx.services.inbox.assign(input, ctx.caller)),
  /** open, pending, resolved (hands back to the bot) or snoozed until a time. */
  setStatus: authedProcedure
    .meta({ openapi: { method: 'POST', path: '/conversations/{conversationId}/status' } })
    .input(ZSetStatusInput)
    .output(ZSetStatusResult)
    .mutation(({ ctx, input }) => ctx.services.inbox.setStatus(input, ctx.caller)),
  /** Counts for the inbox's sidebar: mine, unassigned, all, and per status. */
  inboxCounts: authedProcedure
    .meta({ openapi: { method: 'GET', path: '/inbox/counts' } })
    .output(ZInboxCounts)
    .query(({ ctx }) => ctx.services.inbox.counts(ctx.caller)),
  /** Private notes of the team, never sent to the customer. */
  notes: router({
    add: authedProcedure
      .meta({ openapi: { method: 'POST', path: '/conversations/{conversationId}/notes' } })
      .input(ZNoteAddInput)
      .output(ZNote)
      .mutation(({ ctx, input }) => ctx.services.inbox.addNote(input, ctx.caller)),
    list: authedProcedure
      .meta({ openapi: { method: 'GET', path: '/conversations/{conversationId}/notes' } })
      .input(ZNoteListInput)
      .output(ZNoteList)
      .query(({ ctx, input }) => ctx.services.inbox.listNotes(input, ctx.caller)),
    /** The note's author, or an admin. */
    delete: authedProcedure
      .meta({ openapi: { method: 'DELETE', path: '/conversations/{conversationId}/notes/{noteId}' } })
      .input(ZNoteDeleteInput)
      .output(ZOk)
      .mutation(({ ctx, input }) => ctx.services.inbox.deleteNote(input, ctx.caller)),
  }),
  labels: router({
    set: authedProcedure
      .meta({ openapi: { method: 'PUT', path: '/conversations/{conversationId}/labels' } })
      .input(ZLabelsSetInput)
      .output(ZLabelsResult)
      .mutation(({ ctx, input }) => ctx.services.inbox.setLabels(input, ctx.caller)),
    add: authedProcedure
      .meta({ openapi: { method: 'POST', path: '/conversations/{conversationId}/labels' } })
      .input(ZLabelsChangeInput)
      .output(ZLabelsResult)
      .mutation(({ ctx, input }) => ctx.services.inbox.addLabels(input, ctx.caller)),
    remove: authedProcedure
      .meta({ openapi: { method: 'POST', path: '/conversations/{conversationId}/labels/remove' } })
      .input(ZLabelsChangeInput)
      .output(ZLabelsResult)
      .mutation(({ ctx, input }) => ctx.services.inbox.removeLabels(input, ctx.caller)),
  }),
  start: authedProcedure
    .meta({ openapi: { method: 'POST', path: '/conversations' } })
    .input(ZStartConversationInput)
    .output(ZQueuedMessages)
    .mutation(({ ctx, input }) => ctx.services.messaging.start(input, ctx.caller)),
});
