import { ZContact, ZContactCreateInput, ZContactGetInput } from '../../contracts';
import { router } from '../init';
import { authedProcedure } from '../procedures';

export const crmRouter = router({
  contacts: router({
    create: authedProcedure
      .input(ZContactCreateInput)
      .output(ZContact)
      .mutation(({ ctx, input }) => ctx.services.crm.createContact(input)),
    get: authedProcedure
      .input(ZContactGetInput)
      .output(ZContact)
      .query(({ ctx, input }) => ctx.services.crm.getContact(input.id)),
  }),
});
