import {
  ZBotHistoryInput,
  ZBotHistoryPage,
  ZBotSetEnabledBulkInput,
  ZBotSetEnabledBulkResult,
  ZBotSetEnabledInput,
  ZBotSetEnabledResult,
  ZBotStatus,
  ZBotStatusInput,
  ZBotSummary,
  ZBotSummaryInput,
} from '../../contracts';
import { actorOf } from '../../services/actor';
import { router } from '../init';
import { authedProcedure } from '../procedures';
import { botSettings } from './bot-settings';
import { botOwnership } from './messaging';

export const botRouter = router({
  /** Who owns a conversation, by conversation id or by the customer's phone. */
  status: authedProcedure
    .input(ZBotStatusInput)
    .output(ZBotStatus)
    .query(({ ctx, input }) => ctx.services.bot.status(input)),
  /** Turns the bot on or off for one conversation (by id or phone), with a reason. */
  setEnabled: authedProcedure
    .input(ZBotSetEnabledInput)
    .output(ZBotSetEnabledResult)
    .mutation(({ ctx, input }) => ctx.services.bot.setEnabled(input, actorOf(ctx.caller))),
  /** The same for many conversations, reporting changed, unchanged or not found for each id. */
  setEnabledBulk: authedProcedure
    .meta({ openapi: { method: 'POST', path: '/bot/enabled' } })
    .input(ZBotSetEnabledBulkInput)
    .output(ZBotSetEnabledBulkResult)
    .mutation(({ ctx, input }) => ctx.services.bot.setEnabledBulk(input, actorOf(ctx.caller))),
  /** Every owner change of a conversation with actor, reason and time, newest first. */
  history: authedProcedure
    .meta({ openapi: { method: 'GET', path: '/conversations/{conversationId}/owner-history' } })
    .input(ZBotHistoryInput)
    .output(ZBotHistoryPage)
    .query(({ ctx, input }) => ctx.services.bot.history(input)),
  /** Conversations by owner, and the open handoffs with how long each has waited, oldest first. */
  summary: authedProcedure
    .meta({ openapi: { method: 'GET', path: '/bot/summary' } })
    .input(ZBotSummaryInput)
    .output(ZBotSummary)
    .query(({ ctx, input }) => ctx.services.bot.summary(input)),
  ...botOwnership,
  ...botSettings,
});
