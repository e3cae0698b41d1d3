import { render } from '../campaigns/template';
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
import { conversationLanguage, fixedText } from '../conversation/language';
import { queueOutbound } from '../conversation/outbox';
import { notePersonReplied, setOwner } from '../conversation/ownership';
import { buildPrompt } from '../conversation/prompt';
import { windowRefusal } from '../conversation/window';
import * as contactQ from '../db/queries/contacts';
import * as convQ from '../db/queries/conversations';
import * as inboxQ from '../db/queries/inbox';
import type { DbOrTx } from '../db/types';
import { AppError, badRequest, notFound } from '../errors';
import { toE164 } from '../phone';
import { actorOf } from './actor';
import type { Caller } from './caller';
import { expandVariables } from './canned-responses';
import { requireApprovedTemplate } from './templates';
import type { Visibility } from './visibility';

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

/** A canned response's code typed as the whole message: `/code`. */
const CANNED_CODE = /^\/([a-z0-9][a-z0-9_-]{0,31})$/i;

export function createMessagingService(
  deps: PipelineDeps,
  inbox: { visibility: Visibility; businessName: string | undefined },
): MessagingService {
  const { db, settings } = deps;
  const visible = (conversationId: string, caller: Caller, tx?: DbOrTx) =>
    inbox.visibility.require(conversationId, caller, tx);

  /** The text to send: as written, or a canned response (by id or `/code`) with its variables filled. */
  async function textToSend(caller: Caller, input: TSendMessageInput): Promise<string> {
    const code = input.text ? CANNED_CODE.exec(input.text)?.[1] : undefined;
    if (input.text && !code) return input.text;
    const canned = input.cannedResponseId
      ? await inboxQ.findCanned(db, { id: input.cannedResponseId })
      : await inboxQ.findCanned(db, { code: code!.toLowerCase() });
    if (!canned) {
      if (input.text) return input.text;
      throw notFound('Canned response', input.cannedResponseId);
    }
    const conv = await convQ.readConversation(db, input.conversationId);
    const name = conv?.name ?? conv?.pushName ?? null;
    return expandVariables(canned.text, {
      name,
      first_name: name?.trim().split(/\s+/)[0] ?? null,
      agent_name: caller.kind === 'system' ? null : caller.name,
      business_name: inbox.businessName ?? null,
    });
  }
  // Read at each use: an admin may change the quiet time while the server runs.
  const quiet = () => ({ humanQuietMinutes: settings.humanQuietMinutes });
  const status = (): TQueuedMessages['status'] => (deps.gateway.configured ? 'queued' : 'not_configured');

  async function requireConversation(id: string) {
    const conv = await convQ.readConversation(db, id);
    if (!conv) throw notFound('Conversation', id);
    return conv;
  }

  /** Refuses a free-form message outside the Cloud API's 24-hour window, before anything is stored. */
  function requireWindow(conv: Parameters<typeof windowRefusal>[1]) {
    const refusal = windowRefusal(deps.gateway.name, conv);
    if (refusal) throw new AppError('PRECONDITION_FAILED', `Cannot send a free-form message: ${refusal}`);
  }

  return {
    async sendMessage(input, caller) {
      await visible(input.conversationId, caller);
      requireWindow(await requireConversation(input.conversationId));
      const text = await textToSend(caller, input);
      const actor = actorOf(caller);
      const { messageIds } = await db.transaction(async (tx) => {
        const queued = await queueOutbound(tx, deps, {
          conversationId: input.conversationId,
          text,
          author: 'agent',
          actorId: actor.id,
          actorType: actor.type,
          actorName: actor.name,
          split: false,
        });
        await notePersonReplied(tx, input.conversationId, actor, quiet());
        return queued;
      });
      deps.queue.wake(QUEUE_SEND);
      return { conversationId: input.conversationId, messageIds, status: status() };
    },

    async start(input, caller) {
      const phone = toE164(input.phone, settings.defaultRegion);
      if (!phone)
        throw badRequest(`phone: "${input.phone}" is not a valid phone number`, {
          phone: ['is not a valid phone number'],
        });
      let text = input.text ?? null;
      let ai = null;
      if (!text && input.aiIntro) {
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
      // Outside the Cloud API's 24-hour window (or when only a template is given): the approved template.
      const refusal = windowRefusal(deps.gateway.name, conv);
      if (refusal || (!input.text && !input.aiIntro)) {
        if (!input.template)
          throw new AppError('PRECONDITION_FAILED', `Cannot send a free-form message: ${refusal}`);
        if (deps.gateway.name !== 'whatsapp-cloud') {
          throw new AppError(
            'PRECONDITION_FAILED',
            `The ${deps.gateway.name} gateway has no message templates: templates need GATEWAY=whatsapp-cloud`,
          );
        }
        await requireApprovedTemplate(db, input.template, 'template');
        const contact = { ...conv, leadStatus: conv.leadStatus ?? 'new', source: 'whatsapp', tags: [] };
        const values = input.template.variables.map(
          (v) => render(v, { contact, variables: {}, defaults: {} }).text || '-',
        );
        const { name, language } = input.template;
        const actor = actorOf(caller);
        const { messageIds } = await db.transaction((tx) =>
          queueOutbound(tx, deps, {
            conversationId,
            text: `[template ${name} (${language})]${values.length ? ` ${values.join(' | ')}` : ''}`,
            author: 'agent',
            actorId: actor.id,
            actorType: actor.type,
            actorName: actor.name,
            cloudTemplate: { name, language, values },
          }),
        );
        deps.queue.wake(QUEUE_SEND);
        return { conversationId, messageIds, status: status() };
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
      const actor = actorOf(caller);
      const { messageIds } = await db.transaction((tx) =>
        queueOutbound(tx, deps, {
          conversationId,
          text: text!,
          author: ai ? 'bot' : 'agent',
          actorId: actor.id,
          actorType: actor.type,
          actorName: actor.name,
          ai,
        }),
      );
      deps.queue.wake(QUEUE_SEND);
      return { conversationId, messageIds, status: status() };
    },

    async setOwner(input, caller) {
      await visible(input.conversationId, caller);
      await requireConversation(input.conversationId);
      const actor = actorOf(caller);
      const changed = await db.transaction(async (tx) => {
        const changed = await setOwner(
          tx,
          {
            conversationId: input.conversationId,
            to: input.owner,
            actorType: actor.type,
            actorId: actor.id,
            actorName: actor.name,
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
      await visible(input.conversationId, caller);
      await requireConversation(input.conversationId);
      const actor = actorOf(caller);
      const backMessage = input.notifyCustomer
        ? fixedText(
            deps.persona,
            'backMessage',
            await conversationLanguage(db, deps.persona, input.conversationId),
          )
        : null;
      const changed = await db.transaction(async (tx) => {
        const changed = await setOwner(
          tx,
          {
            conversationId: input.conversationId,
            to: 'bot',
            actorType: actor.type,
            actorId: actor.id,
            actorName: actor.name,
            reason: input.reason ?? 'Handed back from the dashboard',
          },
          quiet(),
        );
        if (changed && backMessage) {
          await queueOutbound(tx, deps, {
            conversationId: input.conversationId,
            text: backMessage,
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
