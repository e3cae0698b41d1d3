import {
  ZInviteStaffInput,
  ZMe,
  ZStaff,
  ZStaffIdInput,
  ZStaffList,
  ZStaffListInput,
  ZStreamTicket,
  ZUpdateStaffInput,
} from '../../contracts';
import { router } from '../init';
import { adminProcedure, authedProcedure } from '../procedures';

/**
 * People and sign-in. `list`: admins get full records (optionally deactivated people too); agents get
 * the names, roles and availability of active people, for assignment. `update`: admins change anything;
 * a signed-in person may set their own `available` (the service enforces it).
 */
export const staffRouter = router({
  /** The signed-in person's record, or a description of the API key calling. */
  me: authedProcedure
    .meta({ openapi: { method: 'GET', path: '/staff/me' } })
    .output(ZMe)
    .query(({ ctx }) => ctx.services.staff.me(ctx.caller)),
  list: authedProcedure
    .meta({ openapi: { method: 'GET', path: '/staff' } })
    .input(ZStaffListInput)
    .output(ZStaffList)
    .query(({ ctx, input }) => ctx.services.staff.list(input, ctx.caller)),
  invite: adminProcedure
    .meta({ openapi: { method: 'POST', path: '/staff' } })
    .input(ZInviteStaffInput)
    .output(ZStaff)
    .mutation(({ ctx, input }) => ctx.services.staff.invite(input)),
  update: authedProcedure
    .meta({ openapi: { method: 'PATCH', path: '/staff/{id}' } })
    .input(ZUpdateStaffInput)
    .output(ZStaff)
    .mutation(({ ctx, input }) => ctx.services.staff.update(input, ctx.caller)),
  deactivate: adminProcedure
    .meta({ openapi: { method: 'POST', path: '/staff/{id}/deactivate' } })
    .input(ZStaffIdInput)
    .output(ZStaff)
    .mutation(({ ctx, input }) => ctx.services.staff.deactivate(input.id)),
  /**
   * A single-use ticket (valid 60 s) that opens one subscription stream as the caller: pass it as the
   * `ticket` connection parameter, so the browser's EventSource URL carries no lasting credential.
   */
  streamTicket: authedProcedure
    .output(ZStreamTicket)
    .mutation(({ ctx }) => ctx.services.auth.issueStreamTicket(ctx.caller)),
});
