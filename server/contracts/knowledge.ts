import { z } from 'zod';
import { ZId } from './common';

/**
 * The knowledge base the bot answers from: admins load documents (text, Markdown, or a CSV of
 * question/answer pairs), the server splits them into passages and embeds them in the background;
 * staff read them and try searches that show exactly what the bot would be given.
 */

/** Largest document text accepted, in characters (a bigger one: split it into several documents). */
export const KNOWLEDGE_MAX_CONTENT_CHARS = 400_000;

export const ZKnowledgeFormat = z.enum(['text', 'markdown', 'csv'], {
  error: 'must be text, markdown or csv',
});
export const ZKnowledgeStatusValue = z.enum(['pending', 'embedding', 'ready', 'failed']);

const ZTitle = z
  .string()
  .trim()
  .min(1, { error: 'must not be empty' })
  .max(200, { error: 'must be at most 200 characters' });
const ZContent = z
  .string()
  .max(KNOWLEDGE_MAX_CONTENT_CHARS, {
    error: `must be at most ${KNOWLEDGE_MAX_CONTENT_CHARS} characters: split it into several documents`,
  })
  .refine((s) => s.trim().length > 0, { error: 'must not be empty' });

export const ZKnowledgeAddInput = z.object({
  title: ZTitle,
  /** `markdown` (default: headings and paragraphs), `text` (paragraphs) or `csv` (question/answer rows). */
  format: ZKnowledgeFormat.default('markdown'),
  content: ZContent,
});
export type TKnowledgeAddInput = z.input<typeof ZKnowledgeAddInput>;

export const ZKnowledgeUpdateInput = z.object({
  id: ZId,
  title: ZTitle.optional(),
  format: ZKnowledgeFormat.optional(),
  content: ZContent.optional(),
});
export type TKnowledgeUpdateInput = z.input<typeof ZKnowledgeUpdateInput>;

export const ZKnowledgeIdInput = z.object({ id: ZId });

export const ZKnowledgeListInput = z
  .object({
    /** Part of the title (case-insensitive). */
    q: z.string().trim().max(200).nullish(),
    limit: z.number().int().min(1).max(500).default(100),
  })
  .default({ limit: 100 });

export const ZKnowledgeDocument = z.object({
  id: ZId,
  title: z.string(),
  format: ZKnowledgeFormat,
  /** pending → embedding → ready, or failed (the document is still searched lexically). */
  status: ZKnowledgeStatusValue,
  passageCount: z.number(),
  /** Passages embedded with `embeddingModel` (progress while `embedding`). */
  embeddedCount: z.number(),
  embeddingModel: z.string().nullable(),
  error: z.string().nullable(),
  embeddedAt: z.date().nullable(),
  createdAt: z.date(),
  updatedAt: z.date(),
});
export type TKnowledgeDocument = z.infer<typeof ZKnowledgeDocument>;

export const ZKnowledgeList = z.object({ items: z.array(ZKnowledgeDocument) });

export const ZKnowledgePassage = z.object({
  id: ZId,
  position: z.number(),
  /** "Delivery policy §2": the document's title and the passage's place in it. */
  label: z.string(),
  heading: z.string().nullable(),
  text: z.string(),
  /** Has an embedding for the configured model. */
  embedded: z.boolean(),
});
export type TKnowledgePassage = z.infer<typeof ZKnowledgePassage>;

export const ZKnowledgeDocumentDetail = ZKnowledgeDocument.extend({
  content: z.string(),
  passages: z.array(ZKnowledgePassage),
});
export type TKnowledgeDocumentDetail = z.infer<typeof ZKnowledgeDocumentDetail>;

export const ZKnowledgeRetrieval = z.enum(['hybrid', 'lexical']);
export type TKnowledgeRetrieval = z.infer<typeof ZKnowledgeRetrieval>;

export const ZKnowledgeSearchInput = z.object({
  query: z.string().trim().min(1, { error: 'must not be empty' }).max(2000),
  /** Ranked passages to return (relevant or not); the bot takes the relevant ones among the first few. */
  limit: z.number().int().min(1).max(50).default(10),
});
export type TKnowledgeSearchInput = z.input<typeof ZKnowledgeSearchInput>;

export const ZKnowledgeHit = z.object({
  passageId: ZId,
  documentId: ZId,
  label: z.string(),
  title: z.string(),
  heading: z.string().nullable(),
  text: z.string(),
  /** Rank fusion of the lists the passage appears in (higher is better; orders the results). */
  score: z.number(),
  /** Cosine similarity of the question and the passage; null without vector retrieval. */
  similarity: z.number().nullable(),
  /** Share of the question's words (stemmed, stop words left out) found in the passage, 0 to 1. */
  lexical: z.number(),
  /** Above the relevance threshold (similarity or lexical). */
  relevant: z.boolean(),
  /** The bot's prompt would carry this passage (relevant, among the first, within the token budget). */
  inPrompt: z.boolean(),
});
export type TKnowledgeHit = z.infer<typeof ZKnowledgeHit>;

export const ZKnowledgeSearchResult = z.object({
  /** `hybrid` (vector and lexical lists fused) or `lexical` (no pgvector, no key, or the query's embedding failed). */
  retrieval: ZKnowledgeRetrieval,
  hits: z.array(ZKnowledgeHit),
});
export type TKnowledgeSearchResult = z.infer<typeof ZKnowledgeSearchResult>;

/** A passage a bot reply was given, stored with the reply ("answered from: Delivery policy §2"). */
export const ZKnowledgeSource = z.object({
  passageId: ZId,
  documentId: ZId,
  label: z.string(),
  score: z.number(),
});
export type TKnowledgeSource = z.infer<typeof ZKnowledgeSource>;

/** The knowledge base as `stats.systemStatus` shows it. */
export const ZKnowledgeSystemStatus = z.object({
  /** `hybrid` where pgvector is available and an OpenAI key is configured, else `lexical`. */
  retrieval: ZKnowledgeRetrieval,
  /** The pgvector extension is installed in the database. */
  vectorExtension: z.boolean(),
  /** Embedding model, null without an OpenAI key. */
  embeddingModel: z.string().nullable(),
  documents: z.number().nullable(),
  /** Documents whose embedding failed (searched lexically until re-embedded). */
  failed: z.number().nullable(),
});
export type TKnowledgeSystemStatus = z.infer<typeof ZKnowledgeSystemStatus>;
