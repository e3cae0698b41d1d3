import {
  ZOk,
  ZTask,
  ZTaskCreateInput,
  ZTaskIdInput,
  ZTaskListInput,
  ZTaskPage,
  ZTaskUpdateInput,
} from '../../../contracts';
import { actorOf } from '../../../services/actor';
import { router } from '../../init';
import { adminProcedure, authedProcedure } from '../../procedures';

export const tasksRouter = router({
  /** Tasks by due time (undated last): due, overdue, by contact, deal or conversation, by status. */
  list: authedProcedure
    .input(ZTaskListInput)
    .output(ZTaskPage)
    .query(({ ctx, input }) => ctx.services.crm.tasks.list(input)),
  create: authedProcedure
    .input(ZTaskCreateInput)
    .output(ZTask)
    .mutation(({ ctx, input }) => ctx.services.crm.tasks.create(input, actorOf(ctx.caller))),
  update: authedProcedure
    .input(ZTaskUpdateInput)
    .output(ZTask)
    .mutation(({ ctx, input }) => ctx.services.crm.tasks.update(input)),
  complete: authedProcedure
    .input(ZTaskIdInput)
    .output(ZTask)
    .mutation(({ ctx, input }) => ctx.services.crm.tasks.complete(input.id, actorOf(ctx.caller))),
  reopen: authedProcedure
    .input(ZTaskIdInput)
    .output(ZTask)
    .mutation(({ ctx, input }) => ctx.services.crm.tasks.reopen(input.id)),
  delete: adminProcedure
    .input(ZTaskIdInput)
    .output(ZOk)
    .mutation(async ({ ctx, input }) => {
      await ctx.services.crm.tasks.delete(input.id);
      return { ok: true as const };
    }),
});
