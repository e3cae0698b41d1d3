/**
 * Measures knowledge retrieval: loads a question → expected-passage set into a throwaway embedded
 * database (PGlite in memory, pgvector loaded), embeds it through the configured OpenAI-compatible
 * endpoint (OPENAI_API_KEY, OPENAI_BASE_URL, OPENAI_EMBEDDING_MODEL), asks every question as the bot
 * would, and reports recall@k (the expected passage among the first k) and MRR (mean of 1 / its rank,
 * 0 when it is not among the first 10). Without OPENAI_API_KEY it measures the lexical path.
 *
 *   npm run eval:knowledge -- [--set tests/knowledge/eval-set.json] [--k 3] [--json]
 *                             [--min-recall 0.8] [--min-mrr 0.7]
 *
 * Exits 1 when a floor given by --min-recall / --min-mrr is not reached, 2 on bad arguments.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { loadConfig } from '../server/config';
import { createLogger } from '../server/log';
import { loadPersona } from '../server/persona';
import { createRuntime } from '../server/runtime';
import { systemCaller } from '../server/services/caller';

const ZEvalSet = z.object({
  description: z.string().optional(),
  documents: z
    .array(z.object({ title: z.string(), format: z.enum(['text', 'markdown', 'csv']), content: z.string() }))
    .min(1),
  questions: z.array(z.object({ question: z.string(), document: z.string(), heading: z.string() })).min(1),
});

const RANKS = 10;

async function main() {
  const { values } = parseArgs({
    options: {
      set: { type: 'string', default: 'tests/knowledge/eval-set.json' },
      k: { type: 'string', default: '3' },
      json: { type: 'boolean', default: false },
      'min-recall': { type: 'string' },
      'min-mrr': { type: 'string' },
    },
  });
  const k = Number(values.k);
  const minRecall = values['min-recall'] === undefined ? null : Number(values['min-recall']);
  const minMrr = values['min-mrr'] === undefined ? null : Number(values['min-mrr']);
  if (!Number.isInteger(k) || k < 1 || k > RANKS || Number.isNaN(minRecall) || Number.isNaN(minMrr)) {
    console.error(`--k must be 1 to ${RANKS}; --min-recall and --min-mrr must be numbers`);
    process.exit(2);
  }
  const set = ZEvalSet.parse(JSON.parse(readFileSync(path.resolve(values.set), 'utf8')));

  // A throwaway embedded database: the eval never touches the configured one.
  const config = loadConfig({
    ...process.env,
    DATABASE_URL: '',
    DATA_DIR: 'memory://',
    BOOTSTRAP_ADMIN_KEY: 'false',
    LOG_LEVEL: 'silent',
  });
  const log = createLogger({ logLevel: 'warn' });
  const runtime = await createRuntime({
    config,
    persona: loadPersona(config.personaPath),
    log,
    workers: false,
  });
  try {
    const { knowledge, services } = runtime;
    const started = Date.now();
    for (const d of set.documents) {
      const doc = await services.knowledge.add(d, systemCaller);
      if (knowledge.embeddings.configured) {
        const outcome = await knowledge.embedDocument({ data: { documentId: doc.id }, retryCount: 0 });
        if (outcome !== 'ready') throw new Error(`could not embed "${d.title}" (${outcome})`);
      }
    }
    const loadMs = Date.now() - started;

    const rows: { question: string; expected: string; rank: number | null; top: string | null }[] = [];
    let retrieval = knowledge.retrieval();
    const searchStarted = Date.now();
    for (const q of set.questions) {
      const res = await knowledge.search(q.question, { limit: RANKS });
      if (res.retrieval === 'lexical') retrieval = 'lexical';
      const at = res.hits.findIndex((h) => h.title === q.document && h.heading === q.heading);
      rows.push({
        question: q.question,
        expected: `${q.document}: ${q.heading}`,
        rank: at < 0 ? null : at + 1,
        top: res.hits[0] ? `${res.hits[0].title}: ${res.hits[0].heading ?? '(top)'}` : null,
      });
    }
    const searchMs = (Date.now() - searchStarted) / set.questions.length;
    const recall = rows.filter((r) => r.rank !== null && r.rank <= k).length / rows.length;
    const mrr = rows.reduce((s, r) => s + (r.rank ? 1 / r.rank : 0), 0) / rows.length;
    const result = {
      retrieval,
      embeddingModel: knowledge.embeddings.configured ? knowledge.embeddings.model : null,
      documents: set.documents.length,
      questions: rows.length,
      k,
      recallAtK: Math.round(recall * 1000) / 1000,
      mrr: Math.round(mrr * 1000) / 1000,
      loadMs,
      searchMsPerQuestion: Math.round(searchMs * 10) / 10,
      misses: rows.filter((r) => r.rank === null || r.rank > k),
    };
    if (values.json) {
      console.log(JSON.stringify(result));
    } else {
      console.log(
        `retrieval: ${result.retrieval}${result.embeddingModel ? ` (${result.embeddingModel})` : ''}; ` +
          `${result.documents} documents, ${result.questions} questions`,
      );
      console.log(
        `recall@${k}: ${result.recallAtK}   MRR: ${result.mrr}   search: ${result.searchMsPerQuestion} ms/question`,
      );
      for (const m of result.misses) {
        console.log(
          `  miss (rank ${m.rank ?? `>${RANKS}`}): "${m.question}" wanted ${m.expected}, got ${m.top ?? 'nothing'}`,
        );
      }
    }
    const failed = (minRecall !== null && recall < minRecall) || (minMrr !== null && mrr < minMrr);
    if (failed) {
      console.error(`below the floor (recall@${k} ${minRecall ?? '-'}, MRR ${minMrr ?? '-'})`);
      process.exitCode = 1;
    }
  } finally {
    await runtime.close();
  }
}

main().catch((err) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
