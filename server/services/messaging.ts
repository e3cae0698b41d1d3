import type {
  THandBackInput,
  TOwnerChanged,
  TQueuedMessages,
  TSendMessageInput,
  TSetOwnerInput,
  TStartConversationInput,
} from '../contracts';
import type { PipelineDeps } from '../conversation/deps';
import { QUEUE_SEND } from '../conversation/deps';
import { queueOutbound } from '../conversation/outbox';
import { noteAgentActivity, setOwner } from '../conversation/ownership';
import { buildPrompt } from '../conversation/prompt';
import * as contactQ from '../db/queries/contacts';
import * as convQ from '../db/queries/conversations';
import { AppError, badRequest, notFound } from '../errors';
import { toE164 } from '../phone';
import { actorOf } from './actor';
import type { Caller } from './caller';

/** Staff actions that send messages or move a conversation between the bot and a human. */
export interface MessagingService {
  /** An agent's reply: stored, sent through the send jobs, and the conversation goes to the human. */
  sendMessage(input: TSendMessageInput, caller: Caller): Promise<TQueuedMessages>;
  /** Opens (or reopens) a conversation with a phone number: the agent's text or an AI introduction. */
  start(input: TStartConversationInput, caller: Caller): Promise<TQueuedMessages>;
  setOwner(input: TSetOwnerInput, caller: Caller): Promise<TOwnerChanged>;
  /** Gives the conversation back to the bot, optionally telling the customer. */
  handBack(input: THandBackInput, caller: Caller): Promise<TOwnerChanged>;
}

export function createMessagingService(deps: PipelineDeps): MessagingService {
  const { db, settings } = deps;
  // Read at each use: an admin may change the quiet time while the server runs.
  const quiet = () => ({ humanQuietMinutes: settings.humanQuietMinutes });
  const status = (): TQueuedMessages['status'] => (deps.gateway.configured ? 'queued' : 'not_configured');

  async function requireConversation(id: string) {
    const conv = await convQ.readConversation(db, id);
    if (!conv) throw notFound('Conversation', id);
    return conv;
  }

  return {
    async sendMessage(input, caller) {
      const actor = actorOf(caller);
      await requireConversation(input.conversationId);
      const { messageIds } = await db.transaction(async (tx) => {
        const queued = await queueOutbound(tx, deps, {
          conversationId: input.conversationId,
          text: input.text,
          author: 'agent',
          actorId: actor.id,
          split: false,
        });
        await setOwner(
          tx,
          {
            conversationId: input.conversationId,
            to: 'human',
            actorType: actor.type,
            actorId: actor.id,
            reason: 'An agent replied',
          },
          quiet(),
        );
        await noteAgentActivity(tx, input.conversationId, new Date(), quiet());
        return queued;
      });
      deps.queue.wake(QUEUE_SEND);
      return { conversationId: input.conversationId, messageIds, status: status() };
    },

    async start(input, caller) {
      const actor = actorOf(caller);
      const phone = toE164(input.phone, settings.defaultRegion);
      if (!phone)
        throw badRequest(`phone: "${input.phone}" is not a valid phone number`, {
          phone: ['is not a valid phone number'],
        });
      let text = input.text ?? null;
      let ai = null;
      if (!text) {
        if (!deps.ai.configured)
          throw new AppError(
            'PRECONDITION_FAILED',
            'OpenAI is not configured: write the first message yourself',
          );
      }
      const conversationId = await db.transaction(async (tx) => {
        const contactId = await contactQ.upsertContactByPhone(tx, phone, null);
        if (input.name) await contactQ.setContactNameIfEmpty(tx, contactId, input.name);
        return convQ.upsertConversation(tx, contactId);
      });
      const conv = await requireConversation(conversationId);
      if (conv.optedOutAt) {
        throw new AppError(
          'PRECONDITION_FAILED',
          `${phone} has opted out of messages; they must write first`,
        );
      }
      if (!text) {
        const crm = await contactQ.crmContext(db, conv.contactId);
        const messages = buildPrompt({
          persona: deps.persona,
          facts: { ...conv, ...crm },
          history: [],
          newMessages: [],
          tokenBudget: settings.historyTokenBudget,
        });
        messages.push({
          role: 'system',
          content:
            'Write the first WhatsApp message to this customer: a short, friendly introduction and an offer to help. No sales pressure.',
        });
        const result = await deps.ai
          .complete({
            model: settings.model,
            messages,
            temperature: deps.persona.model.temperature,
            maxTokens: deps.persona.model.maxTokens,
            allowHandoff: false,
          })
          .catch(() => {
            throw new AppError(
              'PRECONDITION_FAILED',
              'The AI service did not answer; try again or write the message yourself',
            );
          });
        if (result.kind !== 'text')
          throw new AppError('PRECONDITION_FAILED', 'The AI service gave no introduction');
        text = result.text;
        ai = result.usage;
      }
      const { messageIds } = await db.transaction((tx) =>
        queueOutbound(tx, deps, {
          conversationId,
          text: text!,
          author: ai ? 'bot' : 'agent',
          actorId: actor.id,
          ai,
        }),
      );
      deps.queue.wake(QUEUE_SEND);
      return { conversationId, messageIds, status: status() };
    },

    async setOwner(input, caller) {
      const actor = actorOf(caller);
      await requireConversation(input.conversationId);
      const changed = await db.transaction(async (tx) => {
        const changed = await setOwner(
          tx,
          {
            conversationId: input.conversationId,
            to: input.owner,
            actorType: actor.type,
            actorId: actor.id,
            reason:
              input.reason ??
              (input.owner === 'human' ? 'Taken over from the dashboard' : 'Handed back from the dashboard'),
          },
          quiet(),
        );
        return changed;
      });
      return { conversationId: input.conversationId, owner: input.owner, changed };
    },

    async handBack(input, caller) {
      const actor = actorOf(caller);
      await requireConversation(input.conversationId);
      const changed = await db.transaction(async (tx) => {
        const changed = await setOwner(
          tx,
          {
            conversationId: input.conversationId,
            to: 'bot',
            actorType: actor.type,
            actorId: actor.id,
            reason: input.reason ?? 'Handed back from the dashboard',
          },
          quiet(),
        );
        if (changed && input.notifyCustomer) {
          await queueOutbound(tx, deps, {
            conversationId: input.conversationId,
            text: deps.persona.handoff.backMessage,
            author: 'bot',
          });
        }
        return changed;
      });
      if (changed && input.notifyCustomer) deps.queue.wake(QUEUE_SEND);
      return { conversationId: input.conversationId, owner: 'bot', changed };
    },
  };
}
