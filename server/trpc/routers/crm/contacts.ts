import {
  ZContact,
  ZContactCreateInput,
  ZContactDeleteInput,
  ZContactDetail,
  ZContactGetInput,
  ZContactImportInput,
  ZContactListInput,
  ZContactPage,
  ZContactTagsInput,
  ZContactTagsResult,
  ZContactUpdateInput,
  ZGatewaySync,
  ZGatewaySyncStatusResult,
  ZImportPreview,
  ZImportResult,
  ZOk,
  ZTimelineInput,
  ZTimelinePage,
} from '../../../contracts';
import { router } from '../../init';
import { adminProcedure, authedProcedure } from '../../procedures';

export const contactsRouter = router({
  list: authedProcedure
    .meta({ openapi: { method: 'GET', path: '/contacts' } })
    .input(ZContactListInput)
    .output(ZContactPage)
    .query(({ ctx, input }) => ctx.services.crm.contacts.list(input)),
  /** A contact with its conversation, deals, open tasks and latest activities. */
  get: authedProcedure
    .meta({ openapi: { method: 'GET', path: '/contacts/{id}' } })
    .input(ZContactGetInput)
    .output(ZContactDetail)
    .query(({ ctx, input }) => ctx.services.crm.contacts.get(input.id)),
  /** Phone normalised to E.164 (default region from the configuration); CONFLICT when it exists. */
  create: authedProcedure
    .meta({ openapi: { method: 'POST', path: '/contacts' } })
    .input(ZContactCreateInput)
    .output(ZContact)
    .mutation(({ ctx, input }) => ctx.services.crm.contacts.create(input)),
  /** Changes only the fields given; null clears a field. */
  update: authedProcedure
    .meta({ openapi: { method: 'PATCH', path: '/contacts/{id}' } })
    .input(ZContactUpdateInput)
    .output(ZContact)
    .mutation(({ ctx, input }) => ctx.services.crm.contacts.update(input, ctx.caller)),
  /** Soft delete: the contact leaves every list; its phone stays taken. */
  delete: adminProcedure
    .meta({ openapi: { method: 'DELETE', path: '/contacts/{id}' } })
    .input(ZContactDeleteInput)
    .output(ZOk)
    .mutation(async ({ ctx, input }) => {
      await ctx.services.crm.contacts.delete(input.id);
      return { ok: true as const };
    }),
  addTags: authedProcedure
    .meta({ openapi: { method: 'POST', path: '/contacts/tags/add' } })
    .input(ZContactTagsInput)
    .output(ZContactTagsResult)
    .mutation(({ ctx, input }) => ctx.services.crm.contacts.addTags(input)),
  removeTags: authedProcedure
    .meta({ openapi: { method: 'POST', path: '/contacts/tags/remove' } })
    .input(ZContactTagsInput)
    .output(ZContactTagsResult)
    .mutation(({ ctx, input }) => ctx.services.crm.contacts.removeTags(input)),
  /**
   * Imports names and profile pictures from the gateway's contact list in the background: new numbers
   * become contacts with source 'gateway'; known ones only get an empty name or a missing picture
   * filled. Answers the run (or the one already running); follow it with `syncStatus`.
   */
  syncFromGateway: adminProcedure
    .meta({ openapi: { method: 'POST', path: '/contacts/sync' } })
    .output(ZGatewaySync)
    .mutation(({ ctx }) => ctx.services.gatewaySync.start('contacts', ctx.caller)),
  /** The latest contact sync run with its progress, or null. */
  syncStatus: authedProcedure
    .meta({ openapi: { method: 'GET', path: '/contacts/sync' } })
    .output(ZGatewaySyncStatusResult)
    .query(({ ctx }) => ctx.services.gatewaySync.status('contacts')),
  /** CSV or pasted text: preview says what each row would become, commit creates the valid ones. */
  import: router({
    preview: authedProcedure
      .meta({ openapi: { method: 'POST', path: '/contacts/import/preview' } })
      .input(ZContactImportInput)
      .output(ZImportPreview)
      .mutation(({ ctx, input }) => ctx.services.crm.import.preview(input)),
    commit: authedProcedure
      .meta({ openapi: { method: 'POST', path: '/contacts/import' } })
      .input(ZContactImportInput)
      .output(ZImportResult)
      .mutation(({ ctx, input }) => ctx.services.crm.import.commit(input)),
  }),
  /** Activities, deal changes and messages of a contact merged by time, newest first. */
  timeline: authedProcedure
    .meta({ openapi: { method: 'GET', path: '/contacts/{contactId}/timeline' } })
    .input(ZTimelineInput)
    .output(ZTimelinePage)
    .query(({ ctx, input }) => ctx.services.crm.activities.timeline(input)),
});
