import {
  ZLeadAnalytics,
  ZLeadAnalyticsInput,
  ZLeadDetail,
  ZLeadFunnel,
  ZLeadFunnelInput,
  ZLeadGetInput,
  ZLeadListInput,
  ZLeadPage,
  ZLeadRescoreInput,
  ZLeadRescoreRun,
  ZLeadRescoreStatusResult,
  ZLeadScore,
  ZLeadScoreInput,
  ZLeadSetStatusInput,
  ZLeadSetStatusResult,
} from '../../contracts';
import { router } from '../init';
import { authedProcedure } from '../procedures';

export const leadsRouter = router({
  /** Contacts seen as leads: status, score, source, tags and last inbound message. */
  list: authedProcedure
    .meta({ openapi: { method: 'GET', path: '/leads' } })
    .input(ZLeadListInput)
    .output(ZLeadPage)
    .query(({ ctx, input }) => ctx.services.leads.list(input)),
  /** One lead: its stored score with each rule's points, and the model's latest assessment (or null). */
  get: authedProcedure
    .meta({ openapi: { method: 'GET', path: '/leads/{contactId}' } })
    .input(ZLeadGetInput)
    .output(ZLeadDetail)
    .query(({ ctx, input }) => ctx.services.leads.get(input.contactId)),
  /** Changes a lead's status; the change goes on the contact's timeline. */
  setStatus: authedProcedure
    .meta({ openapi: { method: 'POST', path: '/leads/{contactId}/status' } })
    .input(ZLeadSetStatusInput)
    .output(ZLeadSetStatusResult)
    .mutation(({ ctx, input }) => ctx.services.leads.setStatus(input, ctx.caller)),
  /** One contact's score by the rules, with each rule's points (computed now, not stored). */
  score: authedProcedure
    .meta({ openapi: { method: 'GET', path: '/leads/{contactId}/score' } })
    .input(ZLeadScoreInput)
    .output(ZLeadScore)
    .query(({ ctx, input }) => ctx.services.leads.score(input.contactId)),
  /**
   * Starts a background run recomputing and storing the score and breakdown of all contacts, or of
   * those matching, and answers at once with the run (`queued`). Rescores never run in parallel: while
   * a run is queued or running, this answers with that run (its filter, not this call's) and starts
   * nothing. Follow it with `leads.rescoreStatus`; a `leads.rescore` event tells when it finished.
   */
  rescore: authedProcedure
    .meta({ openapi: { method: 'POST', path: '/leads/rescore' } })
    .input(ZLeadRescoreInput)
    .output(ZLeadRescoreRun)
    .mutation(({ ctx, input }) => ctx.services.leads.rescore(input)),
  /** The latest rescore run (queued, running, completed or failed) with its progress, or null. */
  rescoreStatus: authedProcedure
    .meta({ openapi: { method: 'GET', path: '/leads/rescore' } })
    .output(ZLeadRescoreStatusResult)
    .query(({ ctx }) => ctx.services.leads.rescoreStatus()),
  /** Count per status and conversion between consecutive statuses, for contacts created in a period. */
  funnel: authedProcedure
    .meta({ openapi: { method: 'GET', path: '/leads/funnel' } })
    .input(ZLeadFunnelInput)
    .output(ZLeadFunnel)
    .query(({ ctx, input }) => ctx.services.leads.funnel(input)),
  /** Lead counts by source and by day, week or month. */
  analytics: authedProcedure
    .meta({ openapi: { method: 'GET', path: '/leads/analytics' } })
    .input(ZLeadAnalyticsInput)
    .output(ZLeadAnalytics)
    .query(({ ctx, input }) => ctx.services.leads.analytics(input)),
});
