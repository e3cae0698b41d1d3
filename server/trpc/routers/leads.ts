import {
  ZLeadAnalytics,
  ZLeadAnalyticsInput,
  ZLeadFunnel,
  ZLeadFunnelInput,
  ZLeadListInput,
  ZLeadPage,
  ZLeadRescoreInput,
  ZLeadRescoreResult,
  ZLeadScore,
  ZLeadScoreInput,
  ZLeadSetStatusInput,
  ZLeadSetStatusResult,
} from '../../contracts';
import { actorOf } from '../../services/actor';
import { router } from '../init';
import { authedProcedure } from '../procedures';

export const leadsRouter = router({
  /** Contacts seen as leads: status, score, source, tags and last inbound message. */
  list: authedProcedure
    .input(ZLeadListInput)
    .output(ZLeadPage)
    .query(({ ctx, input }) => ctx.services.leads.list(input)),
  /** Changes a lead's status; the change goes on the contact's timeline. */
  setStatus: authedProcedure
    .input(ZLeadSetStatusInput)
    .output(ZLeadSetStatusResult)
    .mutation(({ ctx, input }) => ctx.services.leads.setStatus(input, actorOf(ctx.caller))),
  /** One contact's score by the rules, with each rule's points (computed now, not stored). */
  score: authedProcedure
    .input(ZLeadScoreInput)
    .output(ZLeadScore)
    .query(({ ctx, input }) => ctx.services.leads.score(input.contactId)),
  /** Recomputes and stores the score and breakdown of all contacts, or of those matching. */
  rescore: authedProcedure
    .input(ZLeadRescoreInput)
    .output(ZLeadRescoreResult)
    .mutation(({ ctx, input }) => ctx.services.leads.rescore(input)),
  /** Count per status and conversion between consecutive statuses, for contacts created in a period. */
  funnel: authedProcedure
    .input(ZLeadFunnelInput)
    .output(ZLeadFunnel)
    .query(({ ctx, input }) => ctx.services.leads.funnel(input)),
  /** Lead counts by source and by day, week or month. */
  analytics: authedProcedure
    .input(ZLeadAnalyticsInput)
    .output(ZLeadAnalytics)
    .query(({ ctx, input }) => ctx.services.leads.analytics(input)),
});
