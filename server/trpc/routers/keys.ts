import { z } from 'zod';
import { ZApiKey, ZCreatedKey, ZCreateKeyInput, ZRevokeKeyInput } from '../../contracts';
import { router } from '../init';
import { adminProcedure } from '../procedures';

export const keysRouter = router({
  /** Creates a key; the response is the only place the full key ever appears. */
  create: adminProcedure
    .input(ZCreateKeyInput)
    .output(ZCreatedKey)
    .mutation(({ ctx, input }) => ctx.services.auth.createKey(input)),
  list: adminProcedure.output(z.array(ZApiKey)).query(({ ctx }) => ctx.services.auth.listKeys()),
  revoke: adminProcedure
    .input(ZRevokeKeyInput)
    .output(ZApiKey)
    .mutation(({ ctx, input }) => ctx.services.auth.revokeKey(input.id)),
});
