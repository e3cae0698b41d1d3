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
    .input(ZSendMessageInput)
    .output(ZQueuedMessages)
    .mutation(({ ctx, input }) => ctx.services.messaging.sendMessage(ctx.caller, input)),
  start: authedProcedure
    .input(ZStartConversationInput)
    .output(ZQueuedMessages)
    .mutation(({ ctx, input }) => ctx.services.messaging.start(ctx.caller, input)),
};

export const botOwnership = {
  setOwner: authedProcedure
    .input(ZSetOwnerInput)
    .output(ZOwnerChanged)
    .mutation(({ ctx, input }) => ctx.services.messaging.setOwner(ctx.caller, input)),
  handBack: authedProcedure
    .input(ZHandBackInput)
    .output(ZOwnerChanged)
    .mutation(({ ctx, input }) => ctx.services.messaging.handBack(ctx.caller, input)),
};
