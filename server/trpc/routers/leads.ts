import { z } from 'zod';
import { ZLead, ZLeadListInput } from '../../contracts';
import { router } from '../init';
import { authedProcedure } from '../procedures';

export const leadsRouter = router({
  list: authedProcedure
    .input(ZLeadListInput)
    .output(z.array(ZLead))
    .query(({ ctx, input }) => ctx.services.leads.list(input)),
});
