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
import { actorOf } from '../../../services/actor';
import { router } from '../../init';
import { adminProcedure, authedProcedure } from '../../procedures';

export const dealsRouter = router({
  list: authedProcedure
    .input(ZDealListInput)
    .output(ZDealPage)
    .query(({ ctx, input }) => ctx.services.crm.deals.list(input)),
  create: authedProcedure
    .input(ZDealCreateInput)
    .output(ZDeal)
    .mutation(({ ctx, input }) => ctx.services.crm.deals.create(input, actorOf(ctx.caller))),
  /** Title, value, currency, probability and expected close; the stage moves through moveStage. */
  update: authedProcedure
    .input(ZDealUpdateInput)
    .output(ZDeal)
    .mutation(({ ctx, input }) => ctx.services.crm.deals.update(input, actorOf(ctx.caller))),
  /** Moves the deal to a stage and records the move on the contact's timeline. */
  moveStage: authedProcedure
    .input(ZDealMoveStageInput)
    .output(z.object({ changed: z.boolean(), deal: ZDeal }))
    .mutation(({ ctx, input }) => ctx.services.crm.deals.moveStage(input, actorOf(ctx.caller))),
  delete: adminProcedure
    .input(ZDealDeleteInput)
    .output(ZOk)
    .mutation(async ({ ctx, input }) => {
      await ctx.services.crm.deals.delete(input.id, actorOf(ctx.caller));
      return { ok: true as const };
    }),
  /** Count and value per stage (per currency, exact decimal strings). */
  pipeline: authedProcedure.output(ZPipelineSummary).query(({ ctx }) => ctx.services.crm.deals.pipeline()),
});
