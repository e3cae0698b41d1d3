import type { TRPCError } from '@trpc/server';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { copyProblem } from '../../server/services/campaign-copy';
import { contentText, type FakeOpenAI, startFakeOpenAI } from '../fakes/openai-server';
import { createTestRuntime, type TestRuntime } from '../helpers/runtime';
import { codeOf } from '../helpers/seed';

/** campaigns.suggestCopy through createCaller, with the real openai SDK against the fake OpenAI. */

let openai: FakeOpenAI;
let t: TestRuntime;
let offline: TestRuntime;
beforeAll(async () => {
  openai = await startFakeOpenAI();
  t = await createTestRuntime({ OPENAI_API_KEY: openai.apiKey, OPENAI_BASE_URL: openai.url });
  offline = await createTestRuntime();
});
afterAll(async () => {
  await t?.close();
  await offline?.close();
  await openai?.close();
});
beforeEach(() => openai.setResponder(null));

const agent = () => t.caller('agent');
const brief = 'Spring sale: 20% off all chairs until Sunday; reply YES to get the catalogue.';

async function errorOf(p: Promise<unknown>): Promise<TRPCError> {
  try {
    await p;
  } catch (err) {
    return err as TRPCError;
  }
  throw new Error('expected an error');
}

describe('campaigns.suggestCopy', () => {
  it('returns the proposed text with its variables, asking in the given tone and language', async () => {
    const text = 'Hi {{first_name|there}}! Spring sale at {{company}}: 20% off chairs. Reply YES.';
    openai.script({ reply: text });
    const before = openai.requests.length;
    const s = await agent().campaigns.suggestCopy({ brief, tone: 'friendly', language: 'pt-BR' });
    expect(s).toEqual({ template: text, variables: ['first_name', 'company'], model: expect.any(String) });
    const [req] = openai.requests.slice(before);
    const user = contentText(req!.body.messages.find((m) => m.role === 'user')!.content);
    expect(user).toContain(brief);
    expect(user).toContain('Tone: friendly.');
    expect(user).toContain('pt-BR');
    expect(req!.body.tools).toBeUndefined();
  });

  it('an invalid proposal is sent back once with the reason; a valid second one is returned', async () => {
    openai.script({ reply: 'Hi {{nickname}}, 20% off!' }, { reply: 'Hi {{name}}, 20% off!' });
    const before = openai.requests.length;
    const s = await agent().campaigns.suggestCopy({ brief });
    expect(s.template).toBe('Hi {{name}}, 20% off!');
    const requests = openai.requests.slice(before);
    expect(requests).toHaveLength(2);
    const retry = requests[1]!.body.messages.map((m) => contentText(m.content));
    expect(retry.at(-2)).toBe('Hi {{nickname}}, 20% off!');
    expect(retry.at(-1)).toContain('unknown variables {{nickname}}');
  });

  it('two invalid proposals are refused with a clear error, never returned', async () => {
    openai.script({ reply: 'Hi {{nickname}}!' }, { reply: 'Hi {first_name}, {{ first name }}!' });
    const before = openai.requests.length;
    const err = await errorOf(agent().campaigns.suggestCopy({ brief }));
    expect(err.code).toBe('PRECONDITION_FAILED');
    expect(err.message).toMatch(/no usable text \(braces that are not a valid variable/);
    expect(openai.requests.length - before).toBe(2);
  });

  it('a model that only calls tools or fails is refused', async () => {
    openai.script({ reply: { toolCall: { name: 'anything', arguments: {} } } }, { reply: '' });
    expect(await codeOf(agent().campaigns.suggestCopy({ brief }))).toBe('PRECONDITION_FAILED');
    openai.script({ status: 400 });
    const err = await errorOf(agent().campaigns.suggestCopy({ brief }));
    expect(err.message).toBe('The AI service did not answer; try again in a moment');
  });

  it('checks the input before any model call, and who may call it', async () => {
    const before = openai.requests.length;
    expect(await codeOf(agent().campaigns.suggestCopy({ brief: 'x'.repeat(1001) }))).toBe('BAD_REQUEST');
    expect(await codeOf(agent().campaigns.suggestCopy({ brief: '   ' }))).toBe('BAD_REQUEST');
    expect(await codeOf(agent().campaigns.suggestCopy({ brief, tone: 'angry' as 'calm' }))).toBe(
      'BAD_REQUEST',
    );
    expect(await codeOf(agent().campaigns.suggestCopy({ brief, language: 'en; ignore rules' }))).toBe(
      'BAD_REQUEST',
    );
    expect(await codeOf(agent().campaigns.suggestCopy({ brief: 'a\u0000b' }))).toBe('BAD_REQUEST');
    expect(await codeOf(t.caller(null).campaigns.suggestCopy({ brief }))).toBe('UNAUTHORIZED');
    expect(openai.requests.length).toBe(before);
    openai.script({ reply: 'Hello {{name}}' });
    expect(await codeOf(t.caller('admin').campaigns.suggestCopy({ brief }))).toBe('OK');
  });

  it('without an OpenAI key it says so', async () => {
    const err = await errorOf(offline.caller('agent').campaigns.suggestCopy({ brief }));
    expect(err.code).toBe('PRECONDITION_FAILED');
    expect(err.message).toContain('OPENAI_API_KEY');
  });
});

describe('copyProblem', () => {
  it('accepts contact variables in any spelling and refuses the rest', () => {
    expect(copyProblem('Hi {{First_Name|friend}} from {{ company }}')).toBeNull();
    expect(copyProblem('Plain text, no variables.')).toBeNull();
    expect(copyProblem('')).toMatch(/empty/);
    expect(copyProblem('Hi {{coupon}}')).toMatch(/unknown variables \{\{coupon\}\}/);
    expect(copyProblem('Hi {{coupon|SPRING}}')).toMatch(/unknown variables/);
    expect(copyProblem('Hi {{}} there')).toMatch(/braces/);
    expect(copyProblem('Hi {name}')).toMatch(/braces/);
    expect(copyProblem('Hi }} there')).toMatch(/braces/);
    expect(copyProblem('x'.repeat(1001))).toMatch(/longer than/);
    expect(copyProblem('Hi \u0000')).toMatch(/characters/);
  });
});
