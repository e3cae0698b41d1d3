import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KNOWLEDGE_MAX_CONTENT_CHARS } from '../../server/contracts';
import { createTestRuntime, type TestRuntime } from '../helpers/runtime';
import { codeOf, MISSING_ID } from '../helpers/seed';
import { DELIVERY_POLICY, FAQ_CSV, OPENING_HOURS } from './support';

/** Without an OpenAI key: documents are stored, split and searched lexically (full text and trigram). */
describe('knowledge procedures (lexical retrieval)', () => {
  let t: TestRuntime;
  beforeAll(async () => {
    t = await createTestRuntime();
  });
  afterAll(() => t?.close());

  it('adds Markdown, text and Q/A CSV documents, ready at once without a key, and lists them', async () => {
    const admin = t.caller('admin');
    const delivery = await admin.knowledge.add({ title: 'Delivery policy', content: DELIVERY_POLICY });
    expect(delivery).toMatchObject({
      title: 'Delivery policy',
      format: 'markdown',
      status: 'ready',
      passageCount: 3,
      embeddedCount: 0,
      embeddingModel: null,
    });
    await admin.knowledge.add({ title: 'Opening hours', content: OPENING_HOURS, format: 'text' });
    const faq = await admin.knowledge.add({ title: 'FAQ', content: FAQ_CSV, format: 'csv' });
    expect(faq.passageCount).toBe(2);
    const { items } = await t.caller('agent').knowledge.list();
    expect(items.map((d) => d.title)).toEqual(['Delivery policy', 'FAQ', 'Opening hours']);
    expect((await admin.knowledge.list({ q: 'deliv' })).items.map((d) => d.title)).toEqual([
      'Delivery policy',
    ]);

    const detail = await t.caller('agent').knowledge.get({ id: delivery.id });
    expect(detail.content).toBe(DELIVERY_POLICY);
    expect(detail.passages.map((p) => [p.label, p.heading])).toEqual([
      ['Delivery policy §1', 'Delivery'],
      ['Delivery policy §2', 'Delivery > Weekends'],
      ['Delivery policy §3', 'Delivery > Costs'],
    ]);
  });

  it('finds the passage that answers a question, ranked first, relevant and in the prompt', async () => {
    const res = await t.caller('agent').knowledge.search({ query: 'Do you deliver on Sundays?' });
    expect(res.retrieval).toBe('lexical');
    expect(res.hits[0]).toMatchObject({ label: 'Delivery policy §2', relevant: true, inPrompt: true });
    expect(res.hits[0]!.lexical).toBe(1);
    expect(res.hits[0]!.similarity).toBeNull();
    const card = await t.caller('agent').knowledge.search({ query: 'can I pay with a credit card' });
    expect(card.hits[0]).toMatchObject({ label: 'FAQ §1', relevant: true });
    // Nothing about the question in the knowledge base: no relevant passage, nothing in the prompt.
    const none = await t.caller('agent').knowledge.search({ query: 'What colour is your logo?' });
    expect(none.hits.filter((h) => h.relevant || h.inPrompt)).toEqual([]);
  });

  it('re-splits a document when its text changes, and forgets it when deleted', async () => {
    const admin = t.caller('admin');
    const doc = await admin.knowledge.add({ title: 'Parking', content: 'Parking is free behind the shop.' });
    const updated = await admin.knowledge.update({
      id: doc.id,
      content: '# Parking\nParking is free behind the shop.\n# Bikes\nBike racks stand at the door.',
    });
    expect(updated.passageCount).toBe(2);
    expect((await admin.knowledge.search({ query: 'bike racks' })).hits[0]?.label).toBe('Parking §2');
    const renamed = await admin.knowledge.update({ id: doc.id, title: 'Getting here' });
    expect(renamed.title).toBe('Getting here');
    expect((await admin.knowledge.search({ query: 'bike racks' })).hits[0]?.label).toBe('Getting here §2');
    expect(await admin.knowledge.delete({ id: doc.id })).toEqual({ ok: true });
    expect(await codeOf(admin.knowledge.get({ id: doc.id }))).toBe('NOT_FOUND');
    expect(await codeOf(admin.knowledge.delete({ id: doc.id }))).toBe('NOT_FOUND');
    expect((await admin.knowledge.search({ query: 'bike racks' })).hits).toEqual([]);
  });

  it('lets agents read and search, only admins write, and nobody without a key', async () => {
    const agent = t.caller('agent');
    expect(await codeOf(agent.knowledge.add({ title: 'x', content: 'y' }))).toBe('FORBIDDEN');
    expect(await codeOf(agent.knowledge.update({ id: MISSING_ID, title: 'x' }))).toBe('FORBIDDEN');
    expect(await codeOf(agent.knowledge.delete({ id: MISSING_ID }))).toBe('FORBIDDEN');
    const anon = t.caller(null);
    expect(await codeOf(anon.knowledge.list())).toBe('UNAUTHORIZED');
    expect(await codeOf(anon.knowledge.search({ query: 'sunday' }))).toBe('UNAUTHORIZED');
  });

  it('refuses bad input with a clear 400', async () => {
    const admin = t.caller('admin');
    const bad = [
      () => admin.knowledge.add({ title: 'Empty', content: '' }),
      () => admin.knowledge.add({ title: 'Blank', content: ' \n\t ' }),
      () => admin.knowledge.add({ title: '', content: 'text' }),
      () => admin.knowledge.add({ title: 'Huge', content: 'a'.repeat(KNOWLEDGE_MAX_CONTENT_CHARS + 1) }),
      () => admin.knowledge.add({ title: 'Bad CSV', content: 'a,b,c\n1,2,3', format: 'csv' }),
      () => admin.knowledge.add({ title: 'Half a row', content: 'question,answer\nOpen?,', format: 'csv' }),
      () => admin.knowledge.add({ title: 'Format', content: 'x', format: 'pdf' as 'csv' }),
      () => admin.knowledge.add({ title: 'Nul', content: 'a\u0000b' }),
      () => admin.knowledge.add({ title: 'Surrogate', content: 'a\ud800b' }),
      () => admin.knowledge.add({ title: 'Only heading', content: '# Title only' }),
      () => admin.knowledge.search({ query: '   ' }),
      () => admin.knowledge.update({ id: 'not-a-uuid', title: 'x' }),
    ];
    for (const call of bad) expect(await codeOf(call())).toBe('BAD_REQUEST');
    const err = await admin.knowledge
      .add({ title: 'Bad CSV', content: 'a,b,c\n1,2,3', format: 'csv' })
      .catch((e) => e);
    expect(err.message).toMatch(/question.*answer/);
    expect(await codeOf(admin.knowledge.update({ id: MISSING_ID, title: 'x' }))).toBe('NOT_FOUND');
  });

  it('announces the retrieval mode in stats.systemStatus', async () => {
    const status = await t.caller('agent').stats.systemStatus();
    expect(status.knowledge).toMatchObject({ retrieval: 'lexical', embeddingModel: null, failed: 0 });
    expect(status.knowledge.documents).toBeGreaterThanOrEqual(3);
    // The embedded database ships pgvector; this machine's Postgres 15 does not.
    expect(status.knowledge.vectorExtension).toBe(!process.env.DATABASE_URL);
  });

  it('answers over HTTP with a 400 for bad input and a 403 for an agent writing', async () => {
    const app = await t.app();
    const agentKey = await t.key('agent');
    const adminKey = await t.key('admin');
    const post = (key: string, body: unknown) =>
      app.inject({
        method: 'POST',
        url: '/trpc/knowledge.add',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        payload: JSON.stringify({ json: body }),
      });
    expect((await post(agentKey, { title: 't', content: 'c' })).statusCode).toBe(403);
    expect((await post(adminKey, { title: 't', content: '' })).statusCode).toBe(400);
    expect((await post(adminKey, { title: 't', content: 'Fine text.' })).statusCode).toBe(200);
  });
});
