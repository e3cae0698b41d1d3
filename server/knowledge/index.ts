import { type FactPassage, factsMessage } from '../conversation/facts';
import * as kq from '../db/queries/knowledge';
import { enableVector, ensureVectorIndex } from '../db/queries/knowledge-vector';
import type { Db, DbOrTx } from '../db/types';
import { AiRetryableError } from '../integrations/ai';
import { EMBEDDING_BATCH_SIZE, type EmbeddingsClient } from '../integrations/embeddings';
import type { JobQueue } from '../jobs/queue';
import type { Logger } from '../logger';
import { embeddingInput, passageLabel } from './chunk';

export interface KnowledgeSettings {
  passageMaxChars: number;
  topK: number;
  promptTokens: number;
  minSimilarity: number;
  minLexical: number;
}

export interface KnowledgeHit extends FactPassage {
  title: string;
  similarity: number | null;
  lexical: number;
  relevant: boolean;
  inPrompt: boolean;
}

export interface KnowledgeSearch {
  retrieval: 'hybrid' | 'lexical';
  hits: KnowledgeHit[];
}

export interface EmbedJob {
  documentId: string;
}

/** Retries of an embedding run (with backoff) before the document is marked failed. */
export const EMBED_RETRY_LIMIT = 4;
/** Candidates each list (vector, full-text, trigram) contributes before fusion. */
const CANDIDATES = 20;
/** Reciprocal rank fusion's constant: a passage's score is the sum over lists of 1 / (RRF_K + rank). */
const RRF_K = 60;

/** The knowledge base's engine: retrieval for the bot and for `knowledge.search`, and the embedding jobs. */
export interface Knowledge {
  readonly settings: KnowledgeSettings;
  readonly embeddings: EmbeddingsClient;
  /** Whether pgvector is installed (known after `init`). */
  readonly vectorEnabled: boolean;
  retrieval(): 'hybrid' | 'lexical';
  /** Detects (and creates where offered) the pgvector extension. */
  init(): Promise<void>;
  /** Ranked passages for a question, with what the bot's prompt would carry marked `inPrompt`. */
  search(query: string, opts?: { limit?: number; signal?: AbortSignal }): Promise<KnowledgeSearch>;
  /** The business-facts message for the reply prompt, and the passages it holds. */
  forPrompt(
    query: string,
    opts?: { maxTokens?: number; signal?: AbortSignal },
  ): Promise<ReturnType<typeof factsMessage>>;
  /** Schedules embedding of a document (inside `tx` when given); no-op without an OpenAI key. */
  enqueue(documentId: string, tx?: DbOrTx): Promise<void>;
  /** Wakes the embed workers after an enqueue committed; the next reply asks afresh whether passages exist. */
  wake(): void;
  defineQueues(): Promise<void>;
  /** Starts the embed worker, then `reconcile`. */
  startWorkers(): Promise<void>;
  /**
   * Drops vectors of other models and of passages gone, and schedules every document not fully
   * embedded with the configured model (after a model change, or documents added without a key).
   */
  reconcile(): Promise<number>;
  /**
   * One embedding run of a document (the job's body): embeds, in batches, the passages that have no
   * vector for the configured model. Safe to run twice. Throws a retryable error while retries are
   * left; after that (or on a fatal error) the document is marked failed and keeps its passages.
   */
  embedDocument(job: {
    data: EmbedJob;
    retryCount: number;
  }): Promise<'gone' | 'ready' | 'failed' | 'changed'>;
  status(): Promise<{
    retrieval: 'hybrid' | 'lexical';
    vectorExtension: boolean;
    embeddingModel: string | null;
    documents: number;
    failed: number;
  }>;
}

/** How long replies reuse the answer to "has the knowledge base any passages?". */
const PRESENCE_TTL_MS = 2000;

export function createKnowledge(deps: {
  db: Db;
  queue: JobQueue;
  embeddings: EmbeddingsClient;
  settings: KnowledgeSettings;
  log: Logger;
}): Knowledge {
  const { db, queue, embeddings, settings, log } = deps;
  let vectorEnabled = false;
  const indexed = new Set<number>();
  /**
   * Whether the knowledge base has passages, as replies ask it: one answer serves every reply for
   * `PRESENCE_TTL_MS` (a document added through this process is seen at once, through another
   * process that much later at most).
   */
  let presence: { at: number; answer: Promise<boolean> } | null = null;
  const hasPassages = () => {
    const now = Date.now();
    if (!presence || now - presence.at > PRESENCE_TTL_MS) {
      const answer = kq.hasPassages(db);
      const entry = { at: now, answer };
      presence = entry;
      answer.catch(() => {
        if (presence === entry) presence = null;
      });
    }
    return presence.answer;
  };
  const retrieval = (): 'hybrid' | 'lexical' =>
    vectorEnabled && embeddings.configured ? 'hybrid' : 'lexical';

  async function search(query: string, opts: { limit?: number; signal?: AbortSignal } = {}) {
    const limit = opts.limit ?? Math.max(settings.topK, 1);
    let mode = retrieval();
    let vector: number[] | null = null;
    if (mode === 'hybrid') {
      try {
        [vector] = (await embeddings.embed([query], { signal: opts.signal })) as [number[]];
      } catch (err) {
        log.warn({ err }, 'could not embed the question: lexical retrieval only');
        mode = 'lexical';
      }
    }
    const [fullText, trigram, nearest] = await Promise.all([
      kq.fullTextCandidates(db, query, CANDIDATES),
      kq.trigramCandidates(db, query, CANDIDATES),
      vector
        ? kq.vectorCandidates(db, { vector, model: embeddings.model, limit: CANDIDATES })
        : Promise.resolve([]),
    ]);
    const fused = new Map<string, { score: number; similarity: number | null }>();
    for (const list of [fullText, trigram, nearest]) {
      for (const c of list) {
        const f = fused.get(c.passageId) ?? { score: 0, similarity: null };
        f.score += 1 / (RRF_K + c.rank);
        if ('similarity' in c) f.similarity = c.similarity as number;
        fused.set(c.passageId, f);
      }
    }
    const rows = await kq.hydratePassages(db, [...fused.keys()], query);
    const hits: KnowledgeHit[] = rows
      .map((r) => {
        const f = fused.get(r.id)!;
        const relevant =
          (f.similarity !== null && f.similarity >= settings.minSimilarity) ||
          (r.lexical > 0 && r.lexical >= settings.minLexical);
        return {
          passageId: r.id,
          documentId: r.documentId,
          label: passageLabel(r.title, r.position),
          title: r.title,
          heading: r.heading,
          text: r.text,
          score: Math.round(f.score * 1e6) / 1e6,
          similarity: f.similarity === null ? null : Math.round(f.similarity * 1e4) / 1e4,
          lexical: Math.round(r.lexical * 1e4) / 1e4,
          relevant,
          inPrompt: false,
        };
      })
      .sort(
        (a, b) =>
          b.score - a.score ||
          (b.similarity ?? 0) - (a.similarity ?? 0) ||
          b.lexical - a.lexical ||
          a.label.localeCompare(b.label),
      );
    const { used } = factsMessage(
      hits.filter((h) => h.relevant).slice(0, settings.topK),
      settings.promptTokens,
    );
    const inPrompt = new Set(used.map((u) => u.passageId));
    for (const h of hits) h.inPrompt = inPrompt.has(h.passageId);
    return { retrieval: mode, hits: hits.slice(0, limit) };
  }

  async function runEmbedJob(job: {
    data: EmbedJob;
    retryCount: number;
  }): Promise<'gone' | 'ready' | 'failed' | 'changed'> {
    const { documentId } = job.data;
    const model = embeddings.model;
    const doc = await kq.getDocument(db, documentId);
    if (!doc) return 'gone';
    const passages = await kq.listPassages(db, documentId, model);
    const missing = new Map<string, string>();
    for (const p of passages) {
      if (!p.embedded) missing.set(p.contentHash, embeddingInput(doc.title, p));
    }
    await kq.updateDocument(db, documentId, {
      status: missing.size ? 'embedding' : 'ready',
      embeddingModel: model,
      embeddedCount: passages.length - passages.filter((p) => !p.embedded).length,
      error: null,
      ...(missing.size ? {} : { embeddedAt: new Date() }),
    });
    if (!missing.size) return 'ready';
    const todo = [...missing.entries()];
    try {
      for (let i = 0; i < todo.length; i += EMBEDDING_BATCH_SIZE) {
        const batch = todo.slice(i, i + EMBEDDING_BATCH_SIZE);
        const vectors = await embeddings.embed(batch.map(([, input]) => input));
        await kq.insertEmbeddings(
          db,
          batch.map(([contentHash], j) => ({
            model,
            contentHash,
            dims: vectors[j]!.length,
            embedding: vectors[j]!,
          })),
        );
        if (vectorEnabled) await ensureVectorIndex(db, vectors[0]!.length, log, indexed);
        await kq.updateDocument(db, documentId, {
          embeddedCount: await kq.countEmbedded(db, documentId, model),
        });
      }
    } catch (err) {
      const message = (err as Error).message;
      if (err instanceof AiRetryableError && job.retryCount < EMBED_RETRY_LIMIT) {
        await kq.updateDocument(db, documentId, { error: `${message} (retrying)` });
        throw err;
      }
      await kq.updateDocument(db, documentId, { status: 'failed', error: message });
      log.warn({ documentId, err }, 'knowledge document could not be embedded');
      return 'failed';
    }
    // The document may have changed meanwhile: it is ready only when every current passage is embedded.
    const [current, embedded] = await Promise.all([
      kq.getDocument(db, documentId),
      kq.countEmbedded(db, documentId, model),
    ]);
    if (!current) return 'gone';
    const ready = embedded >= current.passageCount;
    await kq.updateDocument(db, documentId, {
      embeddedCount: embedded,
      ...(ready ? { status: 'ready', embeddedAt: new Date(), error: null } : {}),
    });
    await kq.deleteStaleEmbeddings(db, null);
    return ready ? 'ready' : 'changed';
  }

  return {
    settings,
    embeddings,
    get vectorEnabled() {
      return vectorEnabled;
    },
    retrieval,
    async init() {
      vectorEnabled = await enableVector(db, log);
      if (!vectorEnabled) return;
      for (const dims of await kq.embeddingLengths(db)) await ensureVectorIndex(db, dims, log, indexed);
    },
    search,
    async forPrompt(query, opts = {}) {
      const maxTokens = Math.min(settings.promptTokens, opts.maxTokens ?? settings.promptTokens);
      if (settings.topK === 0 || maxTokens <= 0 || !query.trim()) return { message: null, used: [] };
      // An empty knowledge base costs one cheap query now and then, not an embeddings call per reply.
      if (!(await hasPassages())) return { message: null, used: [] };
      const { hits } = await search(query, { limit: settings.topK, signal: opts.signal });
      return factsMessage(
        hits.filter((h) => h.relevant),
        maxTokens,
      );
    },
    async enqueue(documentId, tx) {
      if (!embeddings.configured) return;
      await queue.send<EmbedJob>(
        kq.QUEUE_KNOWLEDGE_EMBED,
        { documentId },
        { singletonKey: documentId, ...(tx ? { tx } : {}) },
      );
    },
    wake() {
      presence = null;
      queue.wake(kq.QUEUE_KNOWLEDGE_EMBED);
    },
    async defineQueues() {
      await queue.define({
        name: kq.QUEUE_KNOWLEDGE_EMBED,
        policy: 'stately',
        retryLimit: EMBED_RETRY_LIMIT,
        retryDelay: 1,
        retryBackoff: true,
        expireInSeconds: 15 * 60,
      });
    },
    async startWorkers() {
      await queue.work<EmbedJob>(kq.QUEUE_KNOWLEDGE_EMBED, { concurrency: 2 }, async (job) => {
        const outcome = await runEmbedJob(job);
        log.info({ documentId: job.data.documentId, outcome }, 'knowledge embed job done');
      });
      await this.reconcile();
    },
    embedDocument: runEmbedJob,
    async reconcile() {
      if (!embeddings.configured) return 0;
      await kq.deleteStaleEmbeddings(db, embeddings.model);
      const ids = await kq.documentsToEmbed(db, embeddings.model);
      for (const id of ids) await this.enqueue(id);
      if (ids.length) queue.wake(kq.QUEUE_KNOWLEDGE_EMBED, { local: true });
      return ids.length;
    },
    async status() {
      const counts = await kq.knowledgeCounts(db);
      return {
        retrieval: retrieval(),
        vectorExtension: vectorEnabled,
        embeddingModel: embeddings.configured ? embeddings.model : null,
        ...counts,
      };
    },
  };
}
