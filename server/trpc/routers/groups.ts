import {
  ZGatewaySync,
  ZGatewaySyncStatusResult,
  ZGroup,
  ZGroupCampaign,
  ZGroupCampaignCancelInput,
  ZGroupCampaignCancelResult,
  ZGroupCampaignInput,
  ZGroupGetInput,
  ZGroupListInput,
  ZGroupMessageList,
  ZGroupMessagesInput,
  ZGroupScheduleInput,
  ZGroupSend,
  ZGroupSendIdInput,
  ZGroupSendInput,
  ZGroupSendList,
  ZGroupSendsInput,
  ZGroupSummaryList,
} from '../../contracts';
import { router } from '../init';
import { adminProcedure, authedProcedure } from '../procedures';

/** WhatsApp groups. Agents read; admins sync, send, schedule and cancel. */
export const groupsRouter = router({
  /**
   * Imports the gateway's groups and their participants in the background; answers the run (or the
   * one already queued or running). Follow it with `groups.syncStatus`.
   */
  sync: adminProcedure
    .meta({ openapi: { method: 'POST', path: '/groups/sync' } })
    .output(ZGatewaySync)
    .mutation(({ ctx }) => ctx.services.groups.sync(ctx.caller)),
  /** The latest group sync run with its progress, or null. */
  syncStatus: authedProcedure
    .meta({ openapi: { method: 'GET', path: '/groups/sync' } })
    .output(ZGatewaySyncStatusResult)
    .query(({ ctx }) => ctx.services.groups.syncStatus()),
  /** Synced groups with their participant counts, by name. */
  list: authedProcedure
    .meta({ openapi: { method: 'GET', path: '/groups' } })
    .input(ZGroupListInput)
    .output(ZGroupSummaryList)
    .query(({ ctx, input }) => ctx.services.groups.list(input)),
  /** A synced group with its participants. */
  get: authedProcedure
    .meta({ openapi: { method: 'GET', path: '/groups/{jid}' } })
    .input(ZGroupGetInput)
    .output(ZGroup)
    .query(({ ctx, input }) => ctx.services.groups.get(input.jid)),
  /** Sends text to a synced group now (through the shared send throttle), mentioning participants. */
  send: adminProcedure
    .meta({ openapi: { method: 'POST', path: '/groups/send' } })
    .input(ZGroupSendInput)
    .output(ZGroupSend)
    .mutation(({ ctx, input }) => ctx.services.groups.send(input, ctx.caller)),
  /** Sends text to a synced group at `sendAt`; cancellable until it goes out. */
  schedule: adminProcedure
    .meta({ openapi: { method: 'POST', path: '/groups/schedule' } })
    .input(ZGroupScheduleInput)
    .output(ZGroupSend)
    .mutation(({ ctx, input }) => ctx.services.groups.schedule(input, ctx.caller)),
  /** The same text to several groups, `gapSeconds` apart and within the shared send throttle. */
  campaign: adminProcedure
    .meta({ openapi: { method: 'POST', path: '/groups/campaigns' } })
    .input(ZGroupCampaignInput)
    .output(ZGroupCampaign)
    .mutation(({ ctx, input }) => ctx.services.groups.campaign(input, ctx.caller)),
  /** Group sends (now, scheduled, campaigns), newest send time first. */
  sends: authedProcedure
    .meta({ openapi: { method: 'GET', path: '/groups/sends' } })
    .input(ZGroupSendsInput)
    .output(ZGroupSendList)
    .query(({ ctx, input }) => ctx.services.groups.sends(input)),
  /** Cancels a scheduled or queued group send; CONFLICT once it went out (or is going). */
  cancel: adminProcedure
    .meta({ openapi: { method: 'POST', path: '/groups/sends/{id}/cancel' } })
    .input(ZGroupSendIdInput)
    .output(ZGroupSend)
    .mutation(({ ctx, input }) => ctx.services.groups.cancel(input.id, ctx.caller)),
  /** Cancels every send of a group campaign that has not gone out yet; answers how many. */
  cancelCampaign: adminProcedure
    .meta({ openapi: { method: 'POST', path: '/groups/campaigns/{campaignId}/cancel' } })
    .input(ZGroupCampaignCancelInput)
    .output(ZGroupCampaignCancelResult)
    .mutation(({ ctx, input }) => ctx.services.groups.cancelCampaign(input.campaignId, ctx.caller)),
  /** Messages members wrote in a group (stored while the bot setting `storeGroupMessages` is on). */
  messages: authedProcedure
    .meta({ openapi: { method: 'GET', path: '/groups/{jid}/messages' } })
    .input(ZGroupMessagesInput)
    .output(ZGroupMessageList)
    .query(({ ctx, input }) => ctx.services.groups.messages(input)),
});
