import { ZConversation, ZConversationGetInput } from '../../contracts';
import { router } from '../init';
import { authedProcedure } from '../procedures';

export const conversationsRouter = router({
  get: authedProcedure
    .input(ZConversationGetInput)
    .output(ZConversation)
    .query(({ ctx, input }) => ctx.services.conversations.get(input.id)),
});
