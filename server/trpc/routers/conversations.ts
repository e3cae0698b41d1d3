import { tracked } from '@trpc/server';
import {
  ZConversationDetail,
  ZConversationEventsInput,
  ZConversationGetInput,
  ZConversationListInput,
  ZConversationMessagesInput,
  ZConversationPage,
  ZConversationSearchInput,
  ZMarkReadInput,
  ZMarkReadResult,
  ZMessagePage,
  ZQueuedMessages,
  ZSearchResult,
  ZSendMessageInput,
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
    .query(({ ctx, input }) => ctx.services.conversations.list(input)),
  /** A conversation with its contact, latest owner changes and open handoff. */
  get: authedProcedure
    .meta({ openapi: { method: 'GET', path: '/conversations/{id}' } })
    .input(ZConversationGetInput)
    .output(ZConversationDetail)
    .query(({ ctx, input }) => ctx.services.conversations.get(input.id)),
  /** Messages, newest first, with delivery status and AI usage. */
  messages: authedProcedure
    .meta({ openapi: { method: 'GET', path: '/conversations/{conversationId}/messages' } })
    .input(ZConversationMessagesInput)
    .output(ZMessagePage)
    .query(({ ctx, input }) => ctx.services.conversations.messages(input)),
  /** Contacts by name, phone, email or company, and messages by text. */
  search: authedProcedure
    .meta({ openapi: { method: 'GET', path: '/search' } })
    .input(ZConversationSearchInput)
    .output(ZSearchResult)
    .query(({ ctx, input }) => ctx.services.conversations.search(input)),
  markRead: authedProcedure
    .meta({ openapi: { method: 'POST', path: '/conversations/{conversationId}/read' } })
    .input(ZMarkReadInput)
    .output(ZMarkReadResult)
    .mutation(({ ctx, input }) => ctx.services.conversations.markRead(input.conversationId)),
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
    const stream = ctx.services.events.stream({
      conversationId: input.conversationId,
      lastEventId: input.lastEventId ? Number(input.lastEventId) : null,
      signal,
    });
    for await (const e of stream) yield tracked(String(e.id), { ...e.event, at: e.at });
  }),
  /** Messages from staff: an agent's reply, or a new conversation with a phone number. */
  sendMessage: authedProcedure
    .meta({ openapi: { method: 'POST', path: '/conversations/{conversationId}/messages' } })
    .input(ZSendMessageInput)
    .output(ZQueuedMessages)
    .mutation(({ ctx, input }) => ctx.services.messaging.sendMessage(input, ctx.caller)),
  start: authedProcedure
    .meta({ openapi: { method: 'POST', path: '/conversations' } })
    .input(ZStartConversationInput)
    .output(ZQueuedMessages)
    .mutation(({ ctx, input }) => ctx.services.messaging.start(input, ctx.caller)),
});
