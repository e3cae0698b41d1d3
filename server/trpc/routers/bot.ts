import {
  ZBotHistoryInput,
  ZBotHistoryPage,
  ZBotSetEnabledBulkInput,
  ZBotSetEnabledBulkResult,
  ZBotSetEnabledInput,
  ZBotSetEnabledResult,
  ZBotSettings,
  ZBotSettingsUpdate,
  ZBotStatus,
  ZBotStatusInput,
  ZBotSummary,
  ZBotSummaryInput,
  ZHandBackInput,
  ZOwnerChanged,
  ZSetOwnerInput,
} from '../../contracts';
import { router } from '../init';
import { adminProcedure, authedProcedure } from '../procedures';

export const botRouter = router({
  /** Who owns a conversation, by conversation id or by the customer's phone. */
  status: authedProcedure
    .input(ZBotStatusInput)
    .output(ZBotStatus)
    .query(({ ctx, input }) => ctx.services.bot.status(input, ctx.caller)),
  /** Turns the bot on or off for one conversation (by id or phone), with a reason. */
  setEnabled: authedProcedure
    .input(ZBotSetEnabledInput)
    .output(ZBotSetEnabledResult)
    .mutation(({ ctx, input }) => ctx.services.bot.setEnabled(input, ctx.caller)),
  /** The same for many conversations, reporting changed, unchanged or not found for each id. */
  setEnabledBulk: authedProcedure
    .meta({ openapi: { method: 'POST', path: '/bot/enabled' } })
    .input(ZBotSetEnabledBulkInput)
    .output(ZBotSetEnabledBulkResult)
    .mutation(({ ctx, input }) => ctx.services.bot.setEnabledBulk(input, ctx.caller)),
  /** Every owner change of a conversation with actor, reason and time, newest first. */
  history: authedProcedure
    .meta({ openapi: { method: 'GET', path: '/conversations/{conversationId}/owner-history' } })
    .input(ZBotHistoryInput)
    .output(ZBotHistoryPage)
    .query(({ ctx, input }) => ctx.services.bot.history(input, ctx.caller)),
  /** Conversations by owner, and the open handoffs with how long each has waited, oldest first. */
  summary: authedProcedure
    .meta({ openapi: { method: 'GET', path: '/bot/summary' } })
    .input(ZBotSummaryInput)
    .output(ZBotSummary)
    .query(({ ctx, input }) => ctx.services.bot.summary(input)),
  /** Gives a conversation to a human or back to the bot (agents and admins). */
  setOwner: authedProcedure
    .meta({ openapi: { method: 'POST', path: '/conversations/{conversationId}/owner' } })
    .input(ZSetOwnerInput)
    .output(ZOwnerChanged)
    .mutation(({ ctx, input }) => ctx.services.messaging.setOwner(input, ctx.caller)),
  handBack: authedProcedure
    .meta({ openapi: { method: 'POST', path: '/conversations/{conversationId}/hand-back' } })
    .input(ZHandBackInput)
    .output(ZOwnerChanged)
    .mutation(({ ctx, input }) => ctx.services.messaging.handBack(input, ctx.caller)),
  /** The bot's run-time timing (admin): read and change the quiet times. */
  settings: adminProcedure
    .meta({ openapi: { method: 'GET', path: '/bot/settings' } })
    .output(ZBotSettings)
    .query(({ ctx }) => ctx.services.settings.bot()),
  updateSettings: adminProcedure
    .meta({ openapi: { method: 'PATCH', path: '/bot/settings' } })
    .input(ZBotSettingsUpdate)
    .output(ZBotSettings)
    .mutation(({ ctx, input }) => ctx.services.settings.updateBot(input, ctx.caller)),
});
