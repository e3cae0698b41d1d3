import {
  ZKnowledgeAddInput,
  ZKnowledgeDocument,
  ZKnowledgeDocumentDetail,
  ZKnowledgeIdInput,
  ZKnowledgeList,
  ZKnowledgeListInput,
  ZKnowledgeSearchInput,
  ZKnowledgeSearchResult,
  ZKnowledgeUpdateInput,
  ZOk,
} from '../../contracts';
import { router } from '../init';
import { adminProcedure, authedProcedure } from '../procedures';

/** The bot's knowledge base: admins load and change documents, staff read them and try searches. */
export const knowledgeRouter = router({
  /** Stores a document (Markdown, text, or question/answer CSV), split into passages; embedded in the background. */
  add: adminProcedure
    .meta({ openapi: { method: 'POST', path: '/knowledge' } })
    .input(ZKnowledgeAddInput)
    .output(ZKnowledgeDocument)
    .mutation(({ ctx, input }) => ctx.services.knowledge.add(input, ctx.caller)),
  list: authedProcedure
    .meta({ openapi: { method: 'GET', path: '/knowledge' } })
    .input(ZKnowledgeListInput)
    .output(ZKnowledgeList)
    .query(({ ctx, input }) => ctx.services.knowledge.list(input)),
  /** A document with its text and passages (each with its label and whether it is embedded). */
  get: authedProcedure
    .meta({ openapi: { method: 'GET', path: '/knowledge/{id}' } })
    .input(ZKnowledgeIdInput)
    .output(ZKnowledgeDocumentDetail)
    .query(({ ctx, input }) => ctx.services.knowledge.get(input.id)),
  update: adminProcedure
    .meta({ openapi: { method: 'PATCH', path: '/knowledge/{id}' } })
    .input(ZKnowledgeUpdateInput)
    .output(ZKnowledgeDocument)
    .mutation(({ ctx, input }) => ctx.services.knowledge.update(input)),
  delete: adminProcedure
    .meta({ openapi: { method: 'DELETE', path: '/knowledge/{id}' } })
    .input(ZKnowledgeIdInput)
    .output(ZOk)
    .mutation(({ ctx, input }) => ctx.services.knowledge.delete(input.id)),
  /** Ranked passages for a question with their scores: what the bot would be given. */
  search: authedProcedure
    .meta({ openapi: { method: 'GET', path: '/knowledge/search' } })
    .input(ZKnowledgeSearchInput)
    .output(ZKnowledgeSearchResult)
    .query(({ ctx, input }) => ctx.services.knowledge.search(input)),
});
