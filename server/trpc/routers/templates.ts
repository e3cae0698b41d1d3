import { ZMessageTemplateList, ZTemplatesSyncResult } from '../../contracts';
import { router } from '../init';
import { adminProcedure, authedProcedure } from '../procedures';

/** WhatsApp Cloud API message templates: admins sync them from Meta, everyone lists them. */
export const templatesRouter = router({
  list: authedProcedure
    .meta({ openapi: { method: 'GET', path: '/templates' } })
    .output(ZMessageTemplateList)
    .query(({ ctx }) => ctx.services.templates.list()),
  sync: adminProcedure
    .meta({ openapi: { method: 'POST', path: '/templates/sync' } })
    .output(ZTemplatesSyncResult)
    .mutation(({ ctx }) => ctx.services.templates.sync()),
});
