import {
  ZDeadLetter,
  ZDeadLetterIdInput,
  ZDeadLetterPage,
  ZDeadLettersInput,
  ZRetriedDeadLetter,
} from '../../contracts';
import { router } from '../init';
import { adminProcedure } from '../procedures';

/** The server's own housekeeping, for admins. */
export const systemRouter = router({
  /** Gateway items that could not be handled, newest first (open ones by default). */
  deadLetters: adminProcedure
    .meta({ openapi: { method: 'GET', path: '/dead-letters' } })
    .input(ZDeadLettersInput)
    .output(ZDeadLetterPage)
    .query(({ ctx, input }) => ctx.services.deadLetters.list(input)),
  /** Parses and stores a dead letter's item again; resolves it when that works. */
  retryDeadLetter: adminProcedure
    .meta({ openapi: { method: 'POST', path: '/dead-letters/{id}/retry' } })
    .input(ZDeadLetterIdInput)
    .output(ZRetriedDeadLetter)
    .mutation(({ ctx, input }) => ctx.services.deadLetters.retry(input.id, ctx.caller)),
  /** Resolves a dead letter without storing its item. */
  dismissDeadLetter: adminProcedure
    .meta({ openapi: { method: 'POST', path: '/dead-letters/{id}/dismiss' } })
    .input(ZDeadLetterIdInput)
    .output(ZDeadLetter)
    .mutation(({ ctx, input }) => ctx.services.deadLetters.dismiss(input.id, ctx.caller)),
});
