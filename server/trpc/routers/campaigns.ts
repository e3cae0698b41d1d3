import { z } from 'zod';
import { ZCampaignListInput, ZCampaignSummary } from '../../contracts';
import { router } from '../init';
import { authedProcedure } from '../procedures';

export const campaignsRouter = router({
  list: authedProcedure
    .input(ZCampaignListInput)
    .output(z.array(ZCampaignSummary))
    .query(({ ctx, input }) => ctx.services.campaigns.list(input)),
});
