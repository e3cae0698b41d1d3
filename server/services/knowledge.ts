import type { KnowledgeFormat } from '../../drizzle/schema/knowledge';
import type {
  TKnowledgeAddInput,
  TKnowledgeDocument,
  TKnowledgeDocumentDetail,
  TKnowledgeSearchInput,
  TKnowledgeSearchResult,
  TKnowledgeUpdateInput,
} from '../contracts';
import * as kq from '../db/queries/knowledge';
import type { Db, DbOrTx } from '../db/types';
import { notFound } from '../errors';
import type { Knowledge } from '../knowledge';
import { contentHash, embeddingInput, passageLabel, splitDocument } from '../knowledge/chunk';
import { actorOf } from './actor';
import type { Caller } from './caller';

export interface KnowledgeService {
  /** Stores a document and its passages at once (searchable lexically), then embeds it in the background. */
  add(input: TKnowledgeAddInput, caller: Caller): Promise<TKnowledgeDocument>;
  list(input: { q?: string | null; limit: number }): Promise<{ items: TKnowledgeDocument[] }>;
  get(id: string): Promise<TKnowledgeDocumentDetail>;
  /** A new title, format or text splits the document again and re-embeds what changed. */
  update(input: TKnowledgeUpdateInput): Promise<TKnowledgeDocument>;
  delete(id: string): Promise<{ ok: true }>;
  /** What the bot would see for a question: ranked passages with their scores. */
  search(input: TKnowledgeSearchInput): Promise<TKnowledgeSearchResult>;
}

export function createKnowledgeService(deps: { db: Db; knowledge: Knowledge }): KnowledgeService {
  const { db, knowledge } = deps;
  const { passageMaxChars } = knowledge.settings;
  /** Before any embedding: pending, or ready at once when there is nothing to embed with. */
  const initialStatus = () => (knowledge.embeddings.configured ? 'pending' : 'ready');

  /** Splits and stores the passages; the caller's transaction also schedules the embedding. */
  async function writePassages(
    tx: DbOrTx,
    id: string,
    title: string,
    format: KnowledgeFormat,
    content: string,
  ) {
    const passages = splitDocument(format, content, passageMaxChars);
    await kq.replacePassages(
      tx,
      id,
      passages.map((p) => ({ ...p, contentHash: contentHash(embeddingInput(title, p)) })),
    );
    return passages.length;
  }

  return {
    async add(input, caller) {
      const actor = actorOf(caller);
      const format = input.format ?? 'markdown';
      const doc = await db.transaction(async (tx) => {
        const row = await kq.insertDocument(tx, {
          title: input.title,
          format,
          content: input.content,
          status: initialStatus(),
          createdBy: actor.id,
        });
        const passageCount = await writePassages(tx, row.id, input.title, format, input.content);
        await knowledge.enqueue(row.id, tx);
        return (await kq.updateDocument(tx, row.id, { passageCount }))!;
      });
      knowledge.wake();
      return doc;
    },

    list: (input) => kq.listDocuments(db, input).then((items) => ({ items })),

    async get(id) {
      const doc = await kq.getDocument(db, id);
      if (!doc) throw notFound('Knowledge document', id);
      const model = knowledge.embeddings.configured ? knowledge.embeddings.model : null;
      const passages = await kq.listPassages(db, id, model);
      return {
        ...doc,
        passages: passages.map((p) => ({
          id: p.id,
          position: p.position,
          label: passageLabel(doc.title, p.position),
          heading: p.heading,
          text: p.text,
          embedded: p.embedded,
        })),
      };
    },

    async update(input) {
      const doc = await db.transaction(async (tx) => {
        const current = await kq.lockDocument(tx, input.id);
        if (!current) throw notFound('Knowledge document', input.id);
        const title = input.title ?? current.title;
        const format = input.format ?? current.format;
        const content = input.content ?? current.content;
        const changed = title !== current.title || format !== current.format || content !== current.content;
        if (!changed) return current;
        const passageCount = await writePassages(tx, current.id, title, format, content);
        const embedded = knowledge.embeddings.configured
          ? await kq.countEmbedded(tx, current.id, knowledge.embeddings.model)
          : 0;
        await knowledge.enqueue(current.id, tx);
        return (await kq.updateDocument(tx, current.id, {
          title,
          format,
          content,
          passageCount,
          embeddedCount: embedded,
          status: knowledge.embeddings.configured
            ? embedded >= passageCount
              ? 'ready'
              : 'pending'
            : 'ready',
          error: null,
        }))!;
      });
      knowledge.wake();
      const { content: _, ...out } = doc as typeof doc & { content?: string };
      return out;
    },

    async delete(id) {
      if (!(await kq.deleteDocument(db, id))) throw notFound('Knowledge document', id);
      return { ok: true };
    },

    async search(input) {
      const { retrieval, hits } = await knowledge.search(input.query, { limit: input.limit ?? 10 });
      return {
        retrieval,
        hits: hits.map((h) => ({
          passageId: h.passageId,
          documentId: h.documentId,
          label: h.label,
          title: h.title,
          heading: h.heading,
          text: h.text,
          score: h.score,
          similarity: h.similarity,
          lexical: h.lexical,
          relevant: h.relevant,
          inPrompt: h.inPrompt,
        })),
      };
    },
  };
}
