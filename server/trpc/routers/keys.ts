import { z } from 'zod';
import { ZApiKey, ZCreatedKey, ZCreateKeyInput, ZRevokeKeyInput } from '../../contracts';
import { router } from '../init';
import { adminProcedure } from '../procedures';

export const keysRouter = router({
  /** Creates a key; the response is the only place the full key ever appears. */
  create: adminProcedure
    .meta({ openapi: { method: 'POST', path: '/keys' } })
    .input(ZCreateKeyInput)
    .output(ZCreatedKey)
    .mutation(({ ctx, input }) => ctx.services.auth.createKey(input)),
  list: adminProcedure
    .meta({ openapi: { method: 'GET', path: '/keys' } })
    .output(z.array(ZApiKey))
    .query(({ ctx }) => ctx.services.auth.listKeys()),
  revoke: adminProcedure
    .meta({ openapi: { method: 'POST', path: '/keys/{id}/revoke' } })
    .input(ZRevokeKeyInput)
    .output(ZApiKey)
    .mutation(({ ctx, input }) => ctx.services.auth.revokeKey(input.id)),
});
