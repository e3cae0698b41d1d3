import {
  ZHandBackInput,
  ZOwnerChanged,
  ZQueuedMessages,
  ZSendMessageInput,
  ZSetOwnerInput,
  ZStartConversationInput,
} from '../../contracts';
import { authedProcedure } from '../procedures';

/** Procedures that send messages or change a conversation's owner (conversations and bot routers). */
export const conversationMessaging = {
  sendMessage: authedProcedure
    .meta({ openapi: { method: 'POST', path: '/conversations/{conversationId}/messages' } })
    .input(ZSendMessageInput)
    .output(ZQueuedMessages)
    .mutation(({ ctx, input }) => ctx.services.messaging.sendMessage(ctx.caller, input)),
  start: authedProcedure
    .meta({ openapi: { method: 'POST', path: '/conversations' } })
    .input(ZStartConversationInput)
    .output(ZQueuedMessages)
    .mutation(({ ctx, input }) => ctx.services.messaging.start(ctx.caller, input)),
};

export const botOwnership = {
  setOwner: authedProcedure
    .meta({ openapi: { method: 'POST', path: '/conversations/{conversationId}/owner' } })
    .input(ZSetOwnerInput)
    .output(ZOwnerChanged)
    .mutation(({ ctx, input }) => ctx.services.messaging.setOwner(ctx.caller, input)),
  handBack: authedProcedure
    .meta({ openapi: { method: 'POST', path: '/conversations/{conversationId}/hand-back' } })
    .input(ZHandBackInput)
    .output(ZOwnerChanged)
    .mutation(({ ctx, input }) => ctx.services.messaging.handBack(ctx.caller, input)),
};
