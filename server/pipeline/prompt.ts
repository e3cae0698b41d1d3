import type { ChatMessage } from '../integrations/ai';
import type { Persona } from '../persona';

export interface CustomerFacts {
  name: string | null;
  pushName: string | null;
  phone: string;
  company: string | null;
  position: string | null;
  email: string | null;
  leadStatus: string;
  openDeals: { title: string; stage: string; value: string; currency: string }[];
  pendingTasks: { title: string; dueAt: Date | null }[];
  recent: { type: string; summary: string; occurredAt: Date }[];
}

export interface PromptMessage {
  author: string;
  body: string | null;
  type: string;
}

/** A rough token count (about four characters a token), enough to keep the prompt within budget. */
export const estimateTokens = (text: string) => Math.ceil(text.length / 4);

export function customerSummary(f: CustomerFacts): string {
  const lines = [`Customer: ${f.name ?? f.pushName ?? 'unknown name'} (${f.phone})`];
  if (f.company || f.position) lines.push(`Works at: ${[f.position, f.company].filter(Boolean).join(', ')}`);
  if (f.email) lines.push(`Email: ${f.email}`);
  lines.push(`Lead status: ${f.leadStatus}`);
  if (f.openDeals.length) {
    lines.push(
      `Open deals: ${f.openDeals.map((d) => `${d.title} (${d.stage}, ${d.value} ${d.currency})`).join('; ')}`,
    );
  }
  if (f.pendingTasks.length)
    lines.push(`Pending follow-ups: ${f.pendingTasks.map((t) => t.title).join('; ')}`);
  if (f.recent.length) {
    lines.push(
      `Recent activity: ${f.recent.map((a) => `${a.occurredAt.toISOString().slice(0, 10)} ${a.summary}`).join('; ')}`,
    );
  }
  return `What the CRM knows about this customer (for context; do not recite it):\n${lines.join('\n')}`;
}

function asText(m: PromptMessage): string {
  if (m.body?.trim()) return m.type === 'text' ? m.body : `[${m.type}] ${m.body}`;
  return `[${m.type} without text]`;
}

/**
 * The model's input: persona, customer summary, the history that fits the window (messages and token
 * budget, newest kept), then the new messages of the burst.
 */
export function buildPrompt(p: {
  persona: Persona;
  facts: CustomerFacts;
  /** Earlier messages, newest first. */
  history: PromptMessage[];
  newMessages: PromptMessage[];
  tokenBudget: number;
}): ChatMessage[] {
  const head: ChatMessage[] = [
    { role: 'system', content: p.persona.systemPrompt },
    { role: 'system', content: customerSummary(p.facts) },
  ];
  const tail: ChatMessage[] = p.newMessages.map((m) => ({ role: 'user', content: asText(m) }));
  let budget = p.tokenBudget - [...head, ...tail].reduce((n, m) => n + estimateTokens(m.content), 0);
  const kept: ChatMessage[] = [];
  for (const m of p.history) {
    const msg: ChatMessage = { role: m.author === 'contact' ? 'user' : 'assistant', content: asText(m) };
    budget -= estimateTokens(msg.content);
    if (budget < 0) break;
    kept.push(msg);
  }
  return [...head, ...kept.reverse(), ...tail];
}
