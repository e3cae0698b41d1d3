import { ZActivity, ZActivityCreateInput, ZActivityListInput, ZActivityPage } from '../../../contracts';
import { router } from '../../init';
import { authedProcedure } from '../../procedures';

export const activitiesRouter = router({
  /** Activities newest first, by contact, deal or type. */
  list: authedProcedure
    .meta({ openapi: { method: 'GET', path: '/activities' } })
    .input(ZActivityListInput)
    .output(ZActivityPage)
    .query(({ ctx, input }) => ctx.services.crm.activities.list(input)),
  /** Logs something that happened (a note, call, meeting) on the contact's timeline. */
  create: authedProcedure
    .meta({ openapi: { method: 'POST', path: '/activities' } })
    .input(ZActivityCreateInput)
    .output(ZActivity)
    .mutation(({ ctx, input }) => ctx.services.crm.activities.create(input, ctx.caller)),
});
