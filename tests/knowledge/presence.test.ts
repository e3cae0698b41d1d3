import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestRuntime, type TestRuntime } from '../helpers/runtime';
import { DELIVERY_POLICY } from './support';

/**
 * Replies reuse the answer to "has the knowledge base any passages?" for a moment; a document added
 * through this process makes the very next reply look again.
 */
describe('the knowledge base presence check', () => {
  let t: TestRuntime;
  beforeAll(async () => {
    t = await createTestRuntime({}, { workers: false });
  });
  afterAll(() => t?.close());

  it('sees a document added through this process at once, though the empty answer was just given', async () => {
    const { knowledge } = t.runtime;
    const question = 'Do you deliver on Sundays?';
    expect((await knowledge.forPrompt(question)).message).toBeNull();
    await t.caller('admin').knowledge.add({ title: 'Delivery policy', content: DELIVERY_POLICY });
    const { message, used } = await knowledge.forPrompt(question);
    expect(message?.content).toContain('Sundays');
    expect(used.map((u) => u.label)).toContain('Delivery policy §2');
  });
});
