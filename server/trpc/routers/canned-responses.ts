import {
  ZCannedResponse,
  ZCannedResponseCreateInput,
  ZCannedResponseDeleteInput,
  ZCannedResponseList,
  ZCannedResponseUpdateInput,
  ZOk,
} from '../../contracts';
import { router } from '../init';
import { adminProcedure, authedProcedure } from '../procedures';

/** Saved replies: agents read them (and send them with conversations.sendMessage), admins write them. */
export const cannedResponsesRouter = router({
  list: authedProcedure
    .meta({ openapi: { method: 'GET', path: '/canned-responses' } })
    .output(ZCannedResponseList)
    .query(({ ctx }) => ctx.services.cannedResponses.list()),
  create: adminProcedure
    .meta({ openapi: { method: 'POST', path: '/canned-responses' } })
    .input(ZCannedResponseCreateInput)
    .output(ZCannedResponse)
    .mutation(({ ctx, input }) => ctx.services.cannedResponses.create(input)),
  update: adminProcedure
    .meta({ openapi: { method: 'PATCH', path: '/canned-responses/{id}' } })
    .input(ZCannedResponseUpdateInput)
    .output(ZCannedResponse)
    .mutation(({ ctx, input }) => ctx.services.cannedResponses.update(input)),
  delete: adminProcedure
    .meta({ openapi: { method: 'DELETE', path: '/canned-responses/{id}' } })
    .input(ZCannedResponseDeleteInput)
    .output(ZOk)
    .mutation(({ ctx, input }) => ctx.services.cannedResponses.delete(input)),
});
