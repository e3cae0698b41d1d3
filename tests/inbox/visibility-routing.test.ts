import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appRouter } from '../../server/trpc/router';
import { type PipelineHarness, sendsTo, startPipeline, textWebhook } from '../helpers/pipeline';
import { conversationOf, person, until } from './support';

let h: PipelineHarness;
beforeAll(async () => {
  h = await startPipeline({
    REPLY_QUIET_MS: '0',
    AGENT_VISIBILITY: 'assigned',
    ROUTING: 'round_robin',
    ROUTING_MAX_OPEN_PER_AGENT: '1',
  });
});
afterAll(() => h?.closeAll());

const db = () => h.runtime.database.db;

async function handOff(phone: string) {
  await h.post(textWebhook({ phone, text: 'hello' }));
  await sendsTo(h, phone);
  await h.post(textWebhook({ phone, text: 'a human please' }));
  return (await until(
    () => conversationOf(db(), phone),
    (c) => c?.owner === 'human',
  ))!;
}

/** Inputs for each conversation-scoped procedure, given a conversation id. */
const inputs: Record<string, (id: string) => unknown> = {
  'conversations.get': (id) => ({ id }),
  'conversations.messages': (id) => ({ conversationId: id }),
  'conversations.markRead': (id) => ({ conversationId: id }),
  'conversations.sendMessage': (id) => ({ conversationId: id, text: 'hi' }),
  // A real PNG header: the file would be accepted, so only the visibility rule can refuse the call.
  'conversations.sendMedia': (id) => ({
    conversationId: id,
    kind: 'image',
    data: Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13]).toString('base64'),
  }),
  'conversations.assign': (id) => ({ conversationId: id, staffId: null }),
  'conversations.setStatus': (id) => ({ conversationId: id, status: 'pending' }),
  'conversations.notes.add': (id) => ({ conversationId: id, body: 'x' }),
  'conversations.notes.list': (id) => ({ conversationId: id }),
  'conversations.notes.delete': (id) => ({
    conversationId: id,
    noteId: '00000000-0000-4000-8000-000000000001',
  }),
  'conversations.labels.set': (id) => ({ conversationId: id, labels: ['a'] }),
  'conversations.labels.add': (id) => ({ conversationId: id, labels: ['a'] }),
  'conversations.labels.remove': (id) => ({ conversationId: id, labels: ['a'] }),
  'bot.status': (id) => ({ conversationId: id }),
  'bot.setEnabled': (id) => ({ conversationId: id, enabled: true }),
  'bot.history': (id) => ({ conversationId: id }),
  'bot.setOwner': (id) => ({ conversationId: id, owner: 'bot' }),
  'bot.handBack': (id) => ({ conversationId: id }),
};

/**
 * CRM procedures that only link to a conversation (a task may name one): the CRM stays visible to
 * agents as it is, so they are not conversation-scoped.
 */
const crmLinks = ['crm.tasks.create', 'crm.tasks.list'];

/** Procedures whose input names a conversation by `conversationId` (or, conversations.get, `id`). */
function conversationScoped(): string[] {
  const procs = (
    appRouter as unknown as {
      _def: { procedures: Record<string, { _def: { inputs: unknown[]; type: string } }> };
    }
  )._def.procedures;
  return Object.entries(procs)
    .filter(([path, p]) => p._def.type !== 'subscription' && !crmLinks.includes(path))
    .filter(
      ([path, p]) =>
        path === 'conversations.get' || p._def.inputs.flatMap(zodKeys).includes('conversationId'),
    )
    .map(([path]) => path)
    .sort();
}

function zodKeys(schema: unknown): string[] {
  // Unwrap defaults, pipes and refinements down to the object (or union of objects) and list its keys.
  let s = schema as { _zod: { def: Record<string, unknown> } };
  for (let i = 0; i < 10; i++) {
    const def = s._zod.def;
    if (def.type === 'object') return Object.keys(def.shape as object);
    if (def.type === 'union') return (def.options as unknown[]).flatMap(zodKeys);
    const inner = (def.innerType ?? def.in ?? def.schema) as typeof s | undefined;
    if (!inner) return [];
    s = inner;
  }
  return [];
}

describe('AGENT_VISIBILITY=assigned', () => {
  it("every conversation-scoped procedure answers NOT_FOUND for another agent's conversation", async () => {
    const a = await person(db(), 'agent', 'Agent A');
    const b = await person(db(), 'agent', 'Agent B');
    const conv = await handOff('14155550951');
    await h.caller('admin').conversations.assign({ conversationId: conv.id, staffId: b.id });

    const scoped = conversationScoped();
    expect(scoped).toEqual(Object.keys(inputs).sort());
    for (const path of Object.keys(inputs)) {
      const [ns, ...rest] = path.split('.');
      // biome-ignore lint/suspicious/noExplicitAny: walking the router by path
      let fn: any = (h.caller(a) as any)[ns!];
      for (const part of rest) fn = fn[part];
      await expect(fn(inputs[path]!(conv.id)), path).rejects.toMatchObject({ code: 'NOT_FOUND' });
    }
    const list = await h.caller(a).conversations.list({ limit: 100 });
    expect(list.items.map((i) => i.id)).not.toContain(conv.id);
    const search = await h.caller(a).conversations.search({ q: 'a human please' });
    expect(search.messages.items.map((m) => m.conversationId)).not.toContain(conv.id);
    // The assignee and admins see it.
    expect((await h.caller(b).conversations.get({ id: conv.id })).conversation.id).toBe(conv.id);
    expect((await h.caller('agent').conversations.get({ id: conv.id })).conversation.id).toBe(conv.id);
  });
});

describe('round-robin routing', () => {
  it('gives handoffs to available agents in turn, up to the cap per agent', async () => {
    // Only the two people below take conversations.
    const { staff } = await import('../../drizzle');
    await db().update(staff).set({ available: false });
    const x = await person(db(), 'agent', 'Router X');
    const y = await person(db(), 'agent', 'Router Y');
    const c1 = await handOff('14155550961');
    const c2 = await handOff('14155550962');
    const c3 = await handOff('14155550963');
    const assigned = [c1, c2, c3].map((c) => c.assigneeId);
    expect(new Set(assigned.slice(0, 2))).toEqual(new Set([x.id, y.id]));
    expect(assigned[2]).toBeNull();
  });
});
