import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { knowledgeEmbeddings } from '../../drizzle';
import { AiRetryableError } from '../../server/integrations/ai';
import { createEmbeddingsClient } from '../../server/integrations/embeddings';
import { createKnowledge, EMBED_RETRY_LIMIT } from '../../server/knowledge';
import { type FakeOpenAI, startFakeOpenAI } from '../fakes/openai-server';
import { silentLogger } from '../helpers/log';
import { createTestRuntime, type TestRuntime } from '../helpers/runtime';
import { DELIVERY_POLICY, OPENING_HOURS, until } from './support';

const onPglite = !process.env.DATABASE_URL;
const qaCsv = (n: number, changed = -1) =>
  [
    'question,answer',
    ...Array.from({ length: n }, (_, i) => `Question ${i}?,Answer ${i}${i === changed ? ' (new)' : ''}`),
  ].join('\n');

describe('embedding knowledge documents', () => {
  let openai: FakeOpenAI;
  let t: TestRuntime;
  beforeAll(async () => {
    openai = await startFakeOpenAI();
    t = await createTestRuntime({ OPENAI_API_KEY: openai.apiKey, OPENAI_BASE_URL: openai.url });
  });
  afterAll(async () => {
    await t?.close();
    await openai?.close();
  });
  const engine = () => t.runtime.knowledge;
  const doc = (id: string) => t.caller('agent').knowledge.get({ id });

  it('embeds in batches of 64, records progress and the model, and a second run does nothing', async () => {
    const added = await t
      .caller('admin')
      .knowledge.add({ title: 'Sheet', content: qaCsv(150), format: 'csv' });
    expect(added).toMatchObject({ status: 'pending', passageCount: 150, embeddedCount: 0 });
    openai.embeddingRequests.length = 0;
    expect(await engine().embedDocument({ data: { documentId: added.id }, retryCount: 0 })).toBe('ready');
    expect(openai.embeddingRequests.map((r) => r.input.length)).toEqual([64, 64, 22]);
    expect(openai.embeddingRequests.every((r) => r.model === 'text-embedding-3-small')).toBe(true);
    const ready = await doc(added.id);
    expect(ready).toMatchObject({
      status: 'ready',
      embeddedCount: 150,
      embeddingModel: 'text-embedding-3-small',
      error: null,
    });
    expect(ready.passages.every((p) => p.embedded)).toBe(true);

    expect(await engine().embedDocument({ data: { documentId: added.id }, retryCount: 0 })).toBe('ready');
    expect(openai.embeddingRequests).toHaveLength(3);

    // One changed row: only that passage is embedded again.
    await t.caller('admin').knowledge.update({ id: added.id, content: qaCsv(150, 7) });
    const pending = await doc(added.id);
    expect(pending).toMatchObject({ status: 'pending', embeddedCount: 149 });
    expect(pending.passages.filter((p) => !p.embedded).map((p) => p.position)).toEqual([7]);
    await engine().embedDocument({ data: { documentId: added.id }, retryCount: 0 });
    expect(openai.embeddingRequests.at(-1)!.input).toEqual([
      'Sheet — Question 7?\nQ: Question 7?\nA: Answer 7 (new)',
    ]);
    expect((await doc(added.id)).status).toBe('ready');
  });

  it('retries after a 500 and keeps the document searchable when embedding finally fails', async () => {
    const added = await t.caller('admin').knowledge.add({ title: 'Opening hours', content: OPENING_HOURS });
    openai.scriptEmbeddings({ status: 500 });
    const run = engine().embedDocument({ data: { documentId: added.id }, retryCount: 0 });
    await expect(run).rejects.toBeInstanceOf(AiRetryableError);
    expect(await doc(added.id)).toMatchObject({
      status: 'embedding',
      error: expect.stringMatching(/500.*retrying/),
    });
    expect(await engine().embedDocument({ data: { documentId: added.id }, retryCount: 1 })).toBe('ready');

    const failing = await t
      .caller('admin')
      .knowledge.add({ title: 'Delivery policy', content: DELIVERY_POLICY });
    openai.scriptEmbeddings({ status: 503 });
    expect(
      await engine().embedDocument({ data: { documentId: failing.id }, retryCount: EMBED_RETRY_LIMIT }),
    ).toBe('failed');
    expect(await doc(failing.id)).toMatchObject({ status: 'failed', error: expect.stringMatching(/503/) });
    // A bad request is not retried.
    openai.scriptEmbeddings({ status: 400 });
    expect(await engine().embedDocument({ data: { documentId: failing.id }, retryCount: 0 })).toBe('failed');
    // The failed document is still there and found by its words.
    const res = await t.caller('agent').knowledge.search({ query: 'do you deliver on Sundays?' });
    expect(res.hits.find((h) => h.inPrompt)?.label).toBe('Delivery policy §2');
    expect((await t.caller('agent').stats.systemStatus()).knowledge.failed).toBe(1);
    // The next run (a retry, or the reconcile at boot) embeds it.
    expect(await engine().embedDocument({ data: { documentId: failing.id }, retryCount: 0 })).toBe('ready');
  });

  it('re-embeds everything when the configured model changes, dropping the old vectors', async () => {
    const db = t.runtime.database.db;
    const other = createKnowledge({
      db,
      queue: t.runtime.queue,
      embeddings: createEmbeddingsClient({
        apiKey: openai.apiKey,
        baseUrl: openai.url,
        timeoutMs: 2000,
        model: 'text-embedding-3-large',
        dimensions: 256,
      }),
      settings: t.runtime.config.knowledge,
      log: silentLogger,
    });
    await other.init();
    const { items } = await t.caller('agent').knowledge.list();
    expect(await other.reconcile()).toBe(items.length);
    const models = await db.selectDistinct({ model: knowledgeEmbeddings.model }).from(knowledgeEmbeddings);
    expect(models).toEqual([]);
    openai.embeddingRequests.length = 0;
    for (const d of items) await other.embedDocument({ data: { documentId: d.id }, retryCount: 0 });
    const total = items.reduce((n, d) => n + d.passageCount, 0);
    expect(openai.embeddingRequests.reduce((n, r) => n + r.input.length, 0)).toBe(total);
    const rows = await db.execute<{ model: string; dims: number }>(
      sql`select distinct model, dims from knowledge_embeddings`,
    );
    expect(rows.map((r) => ({ ...r }))).toEqual([{ model: 'text-embedding-3-large', dims: 256 }]);
    expect(await other.reconcile()).toBe(0);
    if (onPglite) {
      const res = await other.search('deliver on Sundays');
      expect(res.retrieval).toBe('hybrid');
      expect(res.hits[0]).toMatchObject({ label: 'Delivery policy §2' });
      expect(res.hits[0]!.similarity).toBeGreaterThan(0.3);
    }
  });
});

describe('vector retrieval', () => {
  let openai: FakeOpenAI;
  let t: TestRuntime;
  beforeAll(async () => {
    openai = await startFakeOpenAI();
    t = await createTestRuntime(
      { OPENAI_API_KEY: openai.apiKey, OPENAI_BASE_URL: openai.url },
      { workers: true },
    );
  });
  afterAll(async () => {
    await t?.close();
    await openai?.close();
  });

  it('embeds in the background through the job queue, retrying after a 500', async () => {
    openai.scriptEmbeddings({ status: 500 });
    const admin = t.caller('admin');
    const added = await admin.knowledge.add({ title: 'Delivery policy', content: DELIVERY_POLICY });
    await admin.knowledge.add({ title: 'Opening hours', content: OPENING_HOURS });
    const ready = await until(async () => {
      const d = await admin.knowledge.get({ id: added.id });
      return d.status === 'ready' && d;
    });
    expect(ready.embeddedCount).toBe(3);
    expect(openai.embeddingRequests.length).toBeGreaterThanOrEqual(3);
    await until(async () => (await admin.knowledge.list()).items.every((d) => d.status === 'ready'));
  });

  it.runIf(onPglite)(
    'ranks by vector and words together (hybrid) over an HNSW index on the embedded database',
    async () => {
      const status = await t.caller('agent').stats.systemStatus();
      expect(status.knowledge).toMatchObject({
        retrieval: 'hybrid',
        vectorExtension: true,
        embeddingModel: 'text-embedding-3-small',
      });
      const res = await t.caller('agent').knowledge.search({ query: 'Do you deliver on Sundays?' });
      expect(res.retrieval).toBe('hybrid');
      expect(res.hits[0]).toMatchObject({ label: 'Delivery policy §2', relevant: true, inPrompt: true });
      expect(res.hits[0]!.similarity).toBeGreaterThan(0.3);
      const db = t.runtime.database.db;
      const indexes = await db.execute<{ indexname: string }>(
        sql`select indexname from pg_indexes where indexname like 'knowledge_embeddings_hnsw_%'`,
      );
      expect(indexes.map((r) => r.indexname)).toEqual(['knowledge_embeddings_hnsw_1536']);
      const plan = await db.transaction(async (tx) => {
        await tx.execute(sql`set local enable_seqscan = off`);
        const vec = `[${new Array(1536)
          .fill(0)
          .map((_, i) => (i === 0 ? 1 : 0))
          .join(',')}]`;
        return tx.execute<{ 'QUERY PLAN': string }>(sql`
        explain select content_hash from knowledge_embeddings where dims = 1536
        order by (embedding::vector(1536)) <=> ${vec}::vector(1536) limit 5`);
      });
      expect(plan.map((r) => r['QUERY PLAN']).join('\n')).toContain('knowledge_embeddings_hnsw_1536');
    },
  );

  it.runIf(!onPglite)(
    'stays lexical on a Postgres without pgvector, the vectors stored all the same',
    async () => {
      const status = await t.caller('agent').stats.systemStatus();
      expect(status.knowledge).toMatchObject({ retrieval: 'lexical', vectorExtension: false });
      const res = await t.caller('agent').knowledge.search({ query: 'Do you deliver on Sundays?' });
      expect(res.retrieval).toBe('lexical');
      expect(res.hits[0]).toMatchObject({ label: 'Delivery policy §2', similarity: null });
    },
  );

  it('falls back to words alone when the question cannot be embedded', async () => {
    openai.scriptEmbeddings({ status: 500 });
    const res = await t.caller('agent').knowledge.search({ query: 'Do you deliver on Sundays?' });
    expect(res.retrieval).toBe('lexical');
    expect(res.hits[0]).toMatchObject({ label: 'Delivery policy §2', similarity: null, inPrompt: true });
  });
});
