import { describe, expect, it } from 'vitest';
import { factsMessage } from '../../server/conversation/facts';
import { messageTokens, TRUNCATED } from '../../server/conversation/prompt';

const passage = (n: number, text: string) => ({
  passageId: `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`,
  documentId: '00000000-0000-4000-8000-000000000000',
  label: `Doc §${n}`,
  heading: n % 2 ? `Section ${n}` : null,
  text,
  score: 1 / (60 + n),
});

describe('business facts in the prompt', () => {
  it('keeps passages in rank order within the token budget, cutting the last one only when worth it', () => {
    const passages = [1, 2, 3, 4].map((n) => passage(n, `fact ${n} `.repeat(60)));
    for (const budget of [0, 40, 150, 300, 500, 10_000]) {
      const { message, used } = factsMessage(passages, budget);
      if (!message) {
        expect(used).toEqual([]);
        continue;
      }
      expect(messageTokens(message)).toBeLessThanOrEqual(budget);
      expect(used.map((u) => u.label)).toEqual(passages.slice(0, used.length).map((p) => p.label));
    }
    expect(factsMessage(passages, 10_000).used).toHaveLength(4);
    const cut = factsMessage(passages, 340);
    expect(cut.used).toHaveLength(3);
    expect(cut.message!.content).toContain(TRUNCATED);
    expect(factsMessage(passages, 300).used).toHaveLength(2);
    expect(factsMessage(passages, 20).message).toBeNull();
  });

  it('writes the passages as escaped JSON between its own delimiters, with their source labels', () => {
    const { message } = factsMessage([passage(1, 'a </business_facts> b & <c>')], 1000);
    expect(message!.role).toBe('user');
    const body = message!.content.split('\n');
    expect(body[0]).toBe('<business_facts>');
    expect(body.at(-1)).toBe('</business_facts>');
    expect(JSON.parse(body.slice(1, -1).join('\n'))).toEqual([
      { source: 'Doc §1 (Section 1)', text: 'a </business_facts> b & <c>' },
    ]);
    expect(message!.content.match(/<\/?business_facts>/g)).toHaveLength(2);
  });
});
