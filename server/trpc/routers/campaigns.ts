import { tracked } from '@trpc/server';
import { z } from 'zod';
import {
  ZCampaignCopySuggestion,
  ZCampaignCreateInput,
  ZCampaignDetail,
  ZCampaignIdInput,
  ZCampaignListInput,
  ZCampaignPauseInput,
  ZCampaignPreview,
  ZCampaignPreviewInput,
  ZCampaignRecipientPage,
  ZCampaignRecipientsInput,
  ZCampaignRetryInput,
  ZCampaignRetryResult,
  ZCampaignScheduleInput,
  ZCampaignSuggestCopyInput,
  ZCampaignSummary,
  ZOk,
} from '../../contracts';
import { router } from '../init';
import { adminProcedure, authedProcedure } from '../procedures';

export const campaignsRouter = router({
  /** A draft from a template and an audience (contact ids, tags, lead statuses, pasted numbers or CSV). */
  create: authedProcedure
    .meta({ openapi: { method: 'POST', path: '/campaigns' } })
    .input(ZCampaignCreateInput)
    .output(ZCampaignDetail)
    .mutation(({ ctx, input }) => ctx.services.campaigns.create(input, ctx.caller)),
  /**
   * A campaign text the model proposes for a short brief (optionally a tone and a language). Its
   * `{{variables}}` are all valid contact variables: an invalid proposal is retried once, then refused.
   */
  suggestCopy: authedProcedure
    .meta({ openapi: { method: 'POST', path: '/campaigns/suggest-copy' } })
    .input(ZCampaignSuggestCopyInput)
    .output(ZCampaignCopySuggestion)
    .mutation(({ ctx, input }) => ctx.services.campaigns.suggestCopy(input)),
  /** Valid, invalid, duplicate and opted-out counts, and the message rendered for a few recipients. */
  preview: authedProcedure
    .meta({ openapi: { method: 'GET', path: '/campaigns/{id}/preview' } })
    .input(ZCampaignPreviewInput)
    .output(ZCampaignPreview)
    .query(({ ctx, input }) => ctx.services.campaigns.preview(input)),
  schedule: authedProcedure
    .meta({ openapi: { method: 'POST', path: '/campaigns/{id}/schedule' } })
    .input(ZCampaignScheduleInput)
    .output(ZCampaignDetail)
    .mutation(({ ctx, input }) => ctx.services.campaigns.schedule(input)),
  start: authedProcedure
    .meta({ openapi: { method: 'POST', path: '/campaigns/{id}/start' } })
    .input(ZCampaignIdInput)
    .output(ZCampaignDetail)
    .mutation(({ ctx, input }) => ctx.services.campaigns.start(input.id)),
  /** Stops before the next send; a send already under way finishes. */
  pause: authedProcedure
    .meta({ openapi: { method: 'POST', path: '/campaigns/{id}/pause' } })
    .input(ZCampaignPauseInput)
    .output(ZCampaignDetail)
    .mutation(({ ctx, input }) => ctx.services.campaigns.pause(input, ctx.caller)),
  resume: authedProcedure
    .meta({ openapi: { method: 'POST', path: '/campaigns/{id}/resume' } })
    .input(ZCampaignIdInput)
    .output(ZCampaignDetail)
    .mutation(({ ctx, input }) => ctx.services.campaigns.resume(input.id)),
  /** Ends the campaign: recipients not yet sent are skipped. */
  cancel: authedProcedure
    .meta({ openapi: { method: 'POST', path: '/campaigns/{id}/cancel' } })
    .input(ZCampaignIdInput)
    .output(ZCampaignDetail)
    .mutation(({ ctx, input }) => ctx.services.campaigns.cancel(input.id)),
  /** Sends again to failed recipients (those with an unknown outcome only when asked). */
  retryFailed: authedProcedure
    .meta({ openapi: { method: 'POST', path: '/campaigns/{id}/retry' } })
    .input(ZCampaignRetryInput)
    .output(ZCampaignRetryResult)
    .mutation(({ ctx, input }) => ctx.services.campaigns.retryFailed(input)),
  /** The campaign with its progress figures, rates and replies. */
  get: authedProcedure
    .meta({ openapi: { method: 'GET', path: '/campaigns/{id}' } })
    .input(ZCampaignIdInput)
    .output(ZCampaignDetail)
    .query(({ ctx, input }) => ctx.services.campaigns.get(input.id)),
  list: authedProcedure
    .meta({ openapi: { method: 'GET', path: '/campaigns' } })
    .input(ZCampaignListInput)
    .output(z.array(ZCampaignSummary))
    .query(({ ctx, input }) => ctx.services.campaigns.list(input)),
  /** Recipients in send order, filtered by status or error code, with their error reasons. */
  recipients: authedProcedure
    .meta({ openapi: { method: 'GET', path: '/campaigns/{id}/recipients' } })
    .input(ZCampaignRecipientsInput)
    .output(ZCampaignRecipientPage)
    .query(({ ctx, input }) => ctx.services.campaigns.recipients(input)),
  /**
   * Progress figures whenever they change (checked twice a second), ending after the campaign is
   * completed or cancelled. A reconnecting client gets the current figures first.
   */
  progress: authedProcedure.input(ZCampaignIdInput).subscription(async ({ ctx, input, signal }) => {
    // Checked before streaming, so an unknown id is a NOT_FOUND for the client.
    await ctx.services.campaigns.progress(input.id);
    const updates = ctx.services.campaigns.watch(input.id, { signal });
    return (async function* () {
      let n = 0;
      for await (const p of updates) {
        n += 1;
        yield tracked(`${p.at.getTime()}-${n}`, p);
      }
    })();
  }),
  /** Deletes a draft and its recipients. */
  delete: adminProcedure
    .meta({ openapi: { method: 'DELETE', path: '/campaigns/{id}' } })
    .input(ZCampaignIdInput)
    .output(ZOk)
    .mutation(async ({ ctx, input }) => {
      await ctx.services.campaigns.delete(input.id);
      return { ok: true as const };
    }),
});
