import { z } from 'zod';
import {
  ZDeal,
  ZDealCreateInput,
  ZDealDeleteInput,
  ZDealListInput,
  ZDealMoveStageInput,
  ZDealPage,
  ZDealUpdateInput,
  ZOk,
  ZPipelineSummary,
} from '../../../contracts';
import { router } from '../../init';
import { adminProcedure, authedProcedure } from '../../procedures';

export const dealsRouter = router({
  list: authedProcedure
    .meta({ openapi: { method: 'GET', path: '/deals' } })
    .input(ZDealListInput)
    .output(ZDealPage)
    .query(({ ctx, input }) => ctx.services.crm.deals.list(input)),
  create: authedProcedure
    .meta({ openapi: { method: 'POST', path: '/deals' } })
    .input(ZDealCreateInput)
    .output(ZDeal)
    .mutation(({ ctx, input }) => ctx.services.crm.deals.create(input, ctx.caller)),
  /** Title, value, currency, probability and expected close; the stage moves through moveStage. */
  update: authedProcedure
    .meta({ openapi: { method: 'PATCH', path: '/deals/{id}' } })
    .input(ZDealUpdateInput)
    .output(ZDeal)
    .mutation(({ ctx, input }) => ctx.services.crm.deals.update(input, ctx.caller)),
  /** Moves the deal to a stage and records the move on the contact's timeline. */
  moveStage: authedProcedure
    .meta({ openapi: { method: 'POST', path: '/deals/{id}/stage' } })
    .input(ZDealMoveStageInput)
    .output(z.object({ changed: z.boolean(), deal: ZDeal }))
    .mutation(({ ctx, input }) => ctx.services.crm.deals.moveStage(input, ctx.caller)),
  delete: adminProcedure
    .meta({ openapi: { method: 'DELETE', path: '/deals/{id}' } })
    .input(ZDealDeleteInput)
    .output(ZOk)
    .mutation(async ({ ctx, input }) => {
      await ctx.services.crm.deals.delete(input.id, ctx.caller);
      return { ok: true as const };
    }),
  /** Count and value per stage (per currency, exact decimal strings). */
  pipeline: authedProcedure
    .meta({ openapi: { method: 'GET', path: '/deals/pipeline' } })
    .output(ZPipelineSummary)
    .query(({ ctx }) => ctx.services.crm.deals.pipeline()),
});
