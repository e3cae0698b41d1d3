import {
  ZOk,
  ZTask,
  ZTaskCreateInput,
  ZTaskIdInput,
  ZTaskListInput,
  ZTaskPage,
  ZTaskUpdateInput,
} from '../../../contracts';
import { router } from '../../init';
import { adminProcedure, authedProcedure } from '../../procedures';

export const tasksRouter = router({
  /** Tasks by due time (undated last): due, overdue, by contact, deal or conversation, by status. */
  list: authedProcedure
    .meta({ openapi: { method: 'GET', path: '/tasks' } })
    .input(ZTaskListInput)
    .output(ZTaskPage)
    .query(({ ctx, input }) => ctx.services.crm.tasks.list(input)),
  create: authedProcedure
    .meta({ openapi: { method: 'POST', path: '/tasks' } })
    .input(ZTaskCreateInput)
    .output(ZTask)
    .mutation(({ ctx, input }) => ctx.services.crm.tasks.create(input, ctx.caller)),
  update: authedProcedure
    .meta({ openapi: { method: 'PATCH', path: '/tasks/{id}' } })
    .input(ZTaskUpdateInput)
    .output(ZTask)
    .mutation(({ ctx, input }) => ctx.services.crm.tasks.update(input)),
  complete: authedProcedure
    .meta({ openapi: { method: 'POST', path: '/tasks/{id}/complete' } })
    .input(ZTaskIdInput)
    .output(ZTask)
    .mutation(({ ctx, input }) => ctx.services.crm.tasks.complete(input.id, ctx.caller)),
  reopen: authedProcedure
    .meta({ openapi: { method: 'POST', path: '/tasks/{id}/reopen' } })
    .input(ZTaskIdInput)
    .output(ZTask)
    .mutation(({ ctx, input }) => ctx.services.crm.tasks.reopen(input.id)),
  delete: adminProcedure
    .meta({ openapi: { method: 'DELETE', path: '/tasks/{id}' } })
    .input(ZTaskIdInput)
    .output(ZOk)
    .mutation(async ({ ctx, input }) => {
      await ctx.services.crm.tasks.delete(input.id);
      return { ok: true as const };
    }),
});
