import { sql } from 'drizzle-orm';
import {
  customType,
  index,
  integer,
  pgTable,
  primaryKey,
  real,
  text,
  timestamp,
  uuid,
} from 'drizzle-orm/pg-core';
import { createdAt, id, updatedAt } from './_columns';

/**
 * The knowledge base the bot answers from: documents an admin loads (text, Markdown or question/answer
 * CSV), split into passages, each passage searchable lexically (full-text and trigram) and, once
 * embedded, by meaning. Embeddings are plain `real[]` here so the tables exist on every Postgres; where
 * the pgvector extension is present the server adds an HNSW index over them at boot (see
 * server/knowledge/vector.ts and docs/knowledge.md). Like every table, RLS is on with no policies.
 */

const tsvector = customType<{ data: string }>({ dataType: () => 'tsvector' });

export const KNOWLEDGE_FORMATS = ['text', 'markdown', 'csv'] as const;
export type KnowledgeFormat = (typeof KNOWLEDGE_FORMATS)[number];

/** pending (not embedded yet) → embedding → ready | failed (the document stays searchable lexically). */
export const KNOWLEDGE_STATUSES = ['pending', 'embedding', 'ready', 'failed'] as const;
export type KnowledgeStatus = (typeof KNOWLEDGE_STATUSES)[number];

export const knowledgeDocuments = pgTable('knowledge_documents', {
  id: id(),
  title: text().notNull(),
  format: text().$type<KnowledgeFormat>().notNull(),
  /** The text as loaded (Markdown, plain text or CSV). */
  content: text().notNull(),
  status: text().$type<KnowledgeStatus>().notNull().default('pending'),
  passageCount: integer().notNull().default(0),
  /** Passages with an embedding for `embeddingModel`. */
  embeddedCount: integer().notNull().default(0),
  /** The model the document's passages were (or are being) embedded with; null when never embedded. */
  embeddingModel: text(),
  /** Why the last embedding run failed (the document is still searched lexically). */
  error: text(),
  embeddedAt: timestamp({ withTimezone: true }),
  createdBy: text(),
  createdAt: createdAt(),
  updatedAt: updatedAt(),
}).enableRLS();

export const knowledgePassages = pgTable(
  'knowledge_passages',
  {
    id: id(),
    documentId: uuid()
      .notNull()
      .references(() => knowledgeDocuments.id, { onDelete: 'cascade' }),
    /** 0-based order in the document; the label shows it 1-based ("Delivery policy §2"). */
    position: integer().notNull(),
    /** The heading path above the passage ("Delivery > Weekends"), or the question of a Q/A row. */
    heading: text(),
    text: text().notNull(),
    /** sha256 of what is embedded (title, heading and text): embeddings are shared by equal passages. */
    contentHash: text().notNull(),
    /** English stemming over title, heading and text, for full-text search. */
    searchVector: tsvector().generatedAlwaysAs(
      sql`to_tsvector('english'::regconfig, coalesce("heading", '') || ' ' || "text")`,
    ),
    createdAt: createdAt(),
  },
  (t) => [
    index('knowledge_passages_document_idx').on(t.documentId, t.position),
    index('knowledge_passages_hash_idx').on(t.contentHash),
    index('knowledge_passages_search_idx').using('gin', t.searchVector),
    index('knowledge_passages_text_trgm_idx').using('gin', t.text.op('gin_trgm_ops')),
  ],
).enableRLS();

/** One embedding per (model, passage text); dims is the vector's length as the model returned it. */
export const knowledgeEmbeddings = pgTable(
  'knowledge_embeddings',
  {
    model: text().notNull(),
    contentHash: text().notNull(),
    dims: integer().notNull(),
    embedding: real().array().notNull(),
    createdAt: createdAt(),
  },
  (t) => [primaryKey({ columns: [t.model, t.contentHash] })],
).enableRLS();
