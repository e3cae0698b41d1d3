import { ZBotStatus, ZBotStatusInput } from '../../contracts';
import { router } from '../init';
import { authedProcedure } from '../procedures';

export const botRouter = router({
  /** Who owns a conversation, by conversation id or by the customer's phone. */
  status: authedProcedure
    .input(ZBotStatusInput)
    .output(ZBotStatus)
    .query(({ ctx, input }) => ctx.services.bot.status(input)),
});
