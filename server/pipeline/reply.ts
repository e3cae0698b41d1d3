import type { PipelineDeps, ReplyJob, ToolAction, ToolTarget } from '../conversation/deps';
import { FACTS_NOTICE } from '../conversation/facts';
import { handOff } from '../conversation/handoff';
import { conversationLanguage, fixedText } from '../conversation/language';
import { queueOutbound } from '../conversation/outbox';
import { setOwner } from '../conversation/ownership';
import { buildPrompt } from '../conversation/prompt';
import * as activityQ from '../db/queries/activities';
import * as contactQ from '../db/queries/contacts';
import * as convQ from '../db/queries/conversations';
import { recordEvents } from '../db/queries/events';
import * as mediaQ from '../db/queries/media';
import { promptContext } from '../db/queries/prompt-context';
import type { Tx } from '../db/types';
import { AiRetryableError, type AiTool, type AiUsageInfo, type ChatMessage } from '../integrations/ai';
import type { FixedTextKey } from '../persona';
import { asksForPerson, isExactKeyword } from './keywords';

export type ReplyOutcome =
  | 'not-latest'
  | 'already-handled'
  | 'human-owns'
  | 'superseded'
  | 'opted-out'
  | 'opted-in'
  | 'handoff'
  | 'non-text'
  | 'waiting-media'
  | 'replied'
  | 'fallback';

/**
 * Answers a conversation's unanswered burst of inbound messages, once.
 *
 * Every inbound message schedules a job after the quiet time; only the job of the newest message
 * works, so a burst gets one answer. The answer is written in one transaction that first checks,
 * under a row lock, that no newer message arrived meanwhile (else it is discarded: the newer
 * message's job answers everything) and that no other worker answered already. A crash before that
 * commit leaves nothing behind, and the job's retry starts over.
 */
export async function runReplyJob(
  deps: PipelineDeps,
  job: { data: ReplyJob; retryCount: number },
): Promise<ReplyOutcome> {
  const { db, persona, settings, log } = deps;
  const { conversationId } = job.data;
  const conv = await convQ.readConversationForReply(db, conversationId);
  const latest = conv?.latest;
  if (!conv || !latest || latest.id !== job.data.messageId) return 'not-latest';
  if (conv.botHandledThrough && conv.botHandledThrough >= latest.createdAt) return 'already-handled';

  const now = new Date();
  const resuming = conv.owner === 'human' && conv.botResumesAt !== null && conv.botResumesAt <= now;
  if (conv.owner === 'human' && !resuming) {
    await finish(deps, conversationId, latest, { botSpeaks: false }, async () => {});
    return 'human-owns';
  }

  /**
   * Writes the outcome if this job is still the one to answer and the bot still owns the
   * conversation; false when superseded or taken over meanwhile (nothing written then).
   */
  const commit = async (write: (tx: Tx) => Promise<unknown>) => {
    const ok = await finish(deps, conversationId, latest, { botSpeaks: true }, async (tx) => {
      if (resuming) {
        await setOwner(
          tx,
          {
            conversationId,
            to: 'bot',
            actorType: 'system',
            reason: 'No agent activity during the quiet time',
          },
          { humanQuietMinutes: settings.humanQuietMinutes },
        );
      }
      return write(tx);
    });
    if (ok === 'human-owns') tookOver = true;
    return ok === 'written';
  };
  /** Set when a person took the conversation while the answer was being prepared. */
  let tookOver = false;
  const outcome = (ok: boolean, done: ReplyOutcome): ReplyOutcome =>
    ok ? done : tookOver ? 'human-owns' : 'superseded';

  // A file still downloading: its media job asks for the reply again once it is settled.
  const unanswered = conv.burst;
  if (unanswered.some((m) => m.mediaPending)) return 'waiting-media';
  const burst = await withMedia(deps, unanswered);
  const texts = burst.map((m) => m.body?.trim() ?? '').filter(Boolean);
  const images = burst.flatMap((m) => (m.image ? [m.image] : []));
  const lastText = texts.at(-1) ?? '';
  const label = conv.name ?? conv.pushName ?? conv.phone;
  /** A fixed text in the customer's language (read before a transaction opens). */
  const say = async (key: FixedTextKey) =>
    fixedText(persona, key, await conversationLanguage(db, persona, conversationId), now);

  /** Opt-out (STOP) or opt-in (START): one confirmation, only when the state really changes. */
  const setOptOut = async (optedOut: boolean) => {
    const text = await say(optedOut ? 'optOutConfirmation' : 'optInConfirmation');
    return commit(async (tx) => {
      if (!(await contactQ.setOptOut(tx, conv.contactId, optedOut ? now : null))) return;
      await activityQ.insertActivity(tx, {
        contactId: conv.contactId,
        type: optedOut ? 'opt_out' : 'opt_in',
        summary: `${optedOut ? 'Opted out' : 'Opted back in'} ("${lastText}")`,
      });
      await recordEvents(tx, [
        {
          type: optedOut ? 'contact.opted_out' : 'contact.opted_in',
          contactId: conv.contactId,
          conversationId,
        },
      ]);
      await queueOutbound(tx, deps, { conversationId, text, author: 'bot', split: false });
    });
  };

  /** Hands the conversation to a person (once), telling the customer `message`. */
  const handOver = async (reason: string, message: string, taskTitle?: string) =>
    commit(async (tx) => {
      await handOff(tx, deps, {
        conversationId,
        contactId: conv.contactId,
        customerLabel: label,
        reason,
        actorType: 'bot',
        message,
        taskTitle,
      });
    });

  if (lastText && isExactKeyword(lastText, persona.optOut.keywords)) {
    return outcome(await setOptOut(true), 'opted-out');
  }
  if (lastText && isExactKeyword(lastText, persona.optOut.optInKeywords)) {
    return outcome(await setOptOut(false), 'opted-in');
  }
  if (texts.some((t) => asksForPerson(t, persona.handoff.keywords))) {
    return outcome(await handOver('The customer asked for a person', await say('handoffMessage')), 'handoff');
  }
  if (!texts.length && !images.length) {
    const text = await say('nonTextReply');
    if (persona.media?.handoff && burst.some((m) => m.type !== 'text')) {
      return outcome(await handOver('The customer sent a file the bot cannot read', text), 'handoff');
    }
    const ok = await commit(async (tx) => {
      await queueOutbound(tx, deps, { conversationId, text, author: 'bot' });
    });
    return outcome(ok, 'non-text');
  }

  const fallback = async (reason: string) =>
    outcome(
      await handOver(
        reason,
        await say('fallbackMessage'),
        `Answer ${label}: the bot could not reply (${reason})`,
      ),
      'fallback',
    );

  if (!deps.ai.configured) {
    log.warn(
      { conversationId },
      'OPENAI_API_KEY is not set: sending the fallback message and asking a human',
    );
    return fallback('OpenAI is not configured');
  }

  const { history, crm } = await promptContext(db, {
    conversationId,
    contactId: conv.contactId,
    before: burst[0]!.createdAt,
    historyLimit: settings.historyMaxMessages,
  });
  const knowledge = await businessFacts(deps, texts, conversationId);
  const messages = buildPrompt({
    persona,
    facts: { ...conv, ...crm },
    history,
    newMessages: burst.map((m) => ({ author: 'contact', body: m.body, type: m.type })),
    tokenBudget: settings.historyTokenBudget,
    knowledge: knowledge.message ? { message: knowledge.message, notice: FACTS_NOTICE } : null,
  });

  const target = { contactId: conv.contactId, conversationId };
  let answer: ModelAnswer;
  try {
    answer = await askModel(deps, messages, target, images);
  } catch (err) {
    const lastAttempt = job.retryCount >= settings.aiMaxAttempts - 1;
    log.warn({ conversationId, attempt: job.retryCount + 1, err }, 'AI reply failed');
    if (err instanceof AiRetryableError && !lastAttempt) throw err;
    return fallback('the AI service failed');
  }
  /** The accepted tool calls, written with the answer (so never when it is superseded or taken over). */
  const applyTools = (tx: Tx) =>
    answer.actions.length && deps.tools ? deps.tools.apply(tx, target, answer.actions) : Promise.resolve();

  if (answer.kind === 'handoff') {
    const message = await say('handoffMessage');
    const ok = await commit(async (tx) => {
      await handOff(tx, deps, {
        conversationId,
        contactId: conv.contactId,
        customerLabel: label,
        reason: answer.reason,
        actorType: 'bot',
        message,
      });
      await applyTools(tx);
    });
    return outcome(ok, 'handoff');
  }
  const { text } = answer;
  const usage = knowledge.used.length
    ? {
        ...answer.usage,
        sources: knowledge.used.map((u) => ({
          passageId: u.passageId,
          documentId: u.documentId,
          label: u.label,
          score: u.score,
        })),
      }
    : answer.usage;
  const ok = await commit(async (tx) => {
    // The reply's statement marks the burst handled as well (one statement fewer for every reply).
    await queueOutbound(tx, deps, {
      conversationId,
      text,
      author: 'bot',
      ai: usage,
      handledThrough: latest.createdAt,
    });
    await applyTools(tx);
    return MARKED_HANDLED;
  });
  return outcome(ok, 'replied');
}

/** Model rounds with tools before the last one, which must answer in text. */
export const MAX_TOOL_ROUNDS = 3;

const HANDOFF_TOOL: AiTool = {
  name: 'request_human',
  description:
    'Hand the conversation to a human colleague: when the customer asks for a person, is upset, or needs something only staff can do.',
  parameters: {
    type: 'object',
    properties: { reason: { type: 'string', description: 'Why a human is needed, in a few words' } },
    required: ['reason'],
  },
};

type ModelAnswer = { actions: ToolAction[] } & (
  | { kind: 'text'; text: string; usage: AiUsageInfo }
  | { kind: 'handoff'; reason: string }
);

/**
 * Asks the model, letting it call tools: each round's calls are checked (never applied) and their
 * verdicts sent back, until it answers in text (the last round may not call tools) or asks for a
 * human. The accepted calls come back as actions for the caller to apply with the answer. A refused
 * call (bad arguments, a forbidden value, an unknown tool) is logged and told to the model; the
 * conversation goes on. Token usage is summed over the rounds.
 */
async function askModel(
  deps: PipelineDeps,
  prompt: ChatMessage[],
  target: ToolTarget,
  images: string[] = [],
): Promise<ModelAnswer> {
  const { settings, persona, log } = deps;
  const tools = [HANDOFF_TOOL, ...(deps.tools?.definitions(new Date()) ?? [])];
  const messages = [...prompt];
  const actions: ToolAction[] = [];
  let total: AiUsageInfo | null = null;
  for (let round = 0; ; round++) {
    const last = round >= MAX_TOOL_ROUNDS;
    const result = await deps.ai.complete({
      model: settings.model,
      messages,
      temperature: persona.model.temperature,
      maxTokens: persona.model.maxTokens,
      tools,
      toolChoice: last ? 'none' : 'auto',
      ...(images.length ? { images } : {}),
    });
    total = addUsage(total, result.usage);
    if (result.kind === 'text') return { kind: 'text', text: result.text, usage: total, actions };
    const handoff = result.calls.find((c) => c.name === HANDOFF_TOOL.name);
    const results: ChatMessage[] = [];
    for (const call of result.calls) {
      if (call === handoff) continue;
      const verdict = deps.tools
        ? await deps.tools.check(call, target)
        : { ok: false as const, error: `there is no tool "${call.name.slice(0, 64)}"` };
      if (verdict.ok) actions.push(verdict.action);
      else {
        log.warn(
          { conversationId: target.conversationId, tool: call.name.slice(0, 64), error: verdict.error },
          'bot tool call refused',
        );
      }
      results.push({
        role: 'tool',
        toolCallId: call.id,
        content: verdict.ok ? `ok: ${verdict.result}` : `refused, nothing changed: ${verdict.error}`,
      });
    }
    if (handoff) return { kind: 'handoff', reason: handoffReason(handoff.arguments), actions };
    if (result.text) return { kind: 'text', text: result.text, usage: total, actions };
    if (last) throw new AiRetryableError('The model returned no answer');
    messages.push({ role: 'assistant', content: '', toolCalls: result.calls }, ...results);
  }
}

function handoffReason(args: string): string {
  try {
    const parsed = JSON.parse(args) as { reason?: unknown };
    if (typeof parsed.reason === 'string' && parsed.reason.trim()) return parsed.reason.trim().slice(0, 500);
  } catch {
    // Malformed arguments still mean the model wants a human.
  }
  return 'The assistant asked for a human';
}

function addUsage(a: AiUsageInfo | null, b: AiUsageInfo): AiUsageInfo {
  if (!a) return b;
  return {
    model: b.model,
    promptTokens: a.promptTokens + b.promptTokens,
    completionTokens: a.completionTokens + b.completionTokens,
    latencyMs: a.latencyMs + b.latencyMs,
  };
}

/** Largest image given to the model (larger ones are described by their caption only). */
const MAX_VISION_BYTES = 8 * 1024 * 1024;

/**
 * The burst as the model reads it: a voice note's transcript stands for its text, and, when the
 * persona enables vision, a stored photo is loaded as a data: URL for an image part.
 */
async function withMedia(
  deps: PipelineDeps,
  burst: Array<{ id: string; type: string; body: string | null; createdAt: Date }>,
) {
  const media = burst.some((m) => m.type !== 'text')
    ? await mediaQ.mediaForMessages(
        deps.db,
        burst.map((m) => m.id),
      )
    : [];
  const byMessage = new Map(media.map((m) => [m.messageId, m]));
  const vision = deps.persona.media?.vision === true;
  return Promise.all(
    burst.map(async (m) => {
      const file = byMessage.get(m.id);
      let body = m.body;
      if (file?.transcript) body = [m.body, file.transcript].filter(Boolean).join('\n');
      let image: string | null = null;
      if (
        vision &&
        file?.status === 'stored' &&
        file.kind === 'image' &&
        file.storageKey &&
        file.mimeType &&
        (file.bytes ?? 0) <= MAX_VISION_BYTES &&
        deps.media
      ) {
        try {
          const bytes = await deps.media.store.get(file.storageKey);
          if (bytes) image = `data:${file.mimeType};base64,${Buffer.from(bytes).toString('base64')}`;
        } catch (err) {
          deps.log.warn({ messageId: m.id, err }, 'could not read an image for the model');
        }
      }
      return { ...m, body, image };
    }),
  );
}

/** Characters of the customer's latest messages used as the knowledge base query. */
const KNOWLEDGE_QUERY_CHARS = 1000;

/**
 * The knowledge passages relevant to the burst, fitted to a third of the prompt's budget at most. A
 * retrieval failure is logged and the reply goes on without business facts.
 */
async function businessFacts(deps: PipelineDeps, texts: string[], conversationId: string) {
  const none = { message: null, used: [] };
  if (!deps.knowledge) return none;
  const query = texts.join('\n').slice(-KNOWLEDGE_QUERY_CHARS);
  try {
    return await deps.knowledge.forPrompt(query, {
      maxTokens: Math.floor(deps.settings.historyTokenBudget / 3),
    });
  } catch (err) {
    deps.log.warn({ conversationId, err }, 'knowledge retrieval failed');
    return none;
  }
}

/** What a write in `finish` may return: it set the handled mark itself (anything else: it did not). */
const MARKED_HANDLED = 'marked-handled';

/**
 * Runs the write under the conversation's row lock if the burst is still unanswered and no newer
 * inbound message exists, then marks the burst handled (unless the write did). With `botSpeaks`,
 * the bot must also still own the conversation (or a human's quiet time must be over) at that
 * moment, under the same lock: a person who took over while the answer was being prepared
 * (dashboard, bot switch, business phone) wins, the burst counts as handled and nothing is written
 * ('human-owns').
 */
async function finish(
  deps: PipelineDeps,
  conversationId: string,
  latest: { id: string; createdAt: Date },
  opts: { botSpeaks: boolean },
  write: (tx: Tx) => Promise<unknown>,
): Promise<'written' | 'superseded' | 'human-owns'> {
  return deps.db.transaction(async (tx) => {
    const locked = await convQ.lockConversation(tx, conversationId);
    if (!locked) return 'superseded';
    if (locked.botHandledThrough && locked.botHandledThrough >= latest.createdAt) return 'superseded';
    if (locked.latest?.id !== latest.id) return 'superseded';
    if (opts.botSpeaks) {
      // The owner is read under the same row lock: a takeover commits before it or waits for this.
      const now = new Date();
      const botMay =
        locked.owner === 'bot' ||
        (locked.owner === 'human' && locked.botResumesAt !== null && locked.botResumesAt <= now);
      if (!botMay) {
        await convQ.setHandledThrough(tx, conversationId, latest.createdAt);
        return 'human-owns';
      }
    }
    if ((await write(tx)) !== MARKED_HANDLED)
      await convQ.setHandledThrough(tx, conversationId, latest.createdAt);
    return 'written';
  });
}
