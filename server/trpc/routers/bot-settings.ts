import { ZBotSettings, ZBotSettingsUpdate } from '../../contracts';
import { adminProcedure } from '../procedures';

/** The bot's run-time timing (admin): read and change the quiet times. */
export const botSettings = {
  settings: adminProcedure
    .meta({ openapi: { method: 'GET', path: '/bot/settings' } })
    .output(ZBotSettings)
    .query(({ ctx }) => ctx.services.settings.bot()),
  updateSettings: adminProcedure
    .meta({ openapi: { method: 'PATCH', path: '/bot/settings' } })
    .input(ZBotSettingsUpdate)
    .output(ZBotSettings)
    .mutation(({ ctx, input }) => ctx.services.settings.updateBot(ctx.caller, input)),
};
