import type {
  TConversationDetail,
  TConversationListInput,
  TConversationListItem,
  TConversationSearchInput,
  TMessage,
  TMessageMedia,
  TSearchResult,
} from '../contracts';
import { windowClosesAt } from '../conversation/window';
import * as cq from '../db/queries/contacts';
import * as q from '../db/queries/conversations';
import { recordEvents } from '../db/queries/events';
import { likePattern } from '../db/queries/keyset';
import * as mediaQ from '../db/queries/media';
import type { Db } from '../db/types';
import { badRequest, notFound } from '../errors';
import type { Caller } from './caller';
import { decodeCursor, toPage } from './pagination';
import type { Visibility } from './visibility';

type Page<T> = { items: T[]; nextCursor: string | null };

/** A media row as the API shows it (never its storage key or gateway handle). */
export function mediaOf(f: mediaQ.MediaRow): TMessageMedia {
  return {
    id: f.id,
    kind: f.kind,
    mimeType: f.mimeType,
    fileName: f.fileName,
    voice: f.voice,
    bytes: f.bytes ?? f.declaredBytes,
    sha256: f.sha256,
    status: f.status,
    reason: f.reason,
    transcript: f.transcript,
  };
}

export interface ConversationsService {
  /** The inbox: newest activity first, with the filters a dashboard needs. */
  list(input: TConversationListInput, caller: Caller): Promise<Page<TConversationListItem>>;
  /** A conversation with its contact, its latest owner changes and its open handoff. */
  get(id: string, caller: Caller): Promise<TConversationDetail>;
  /** Messages, newest first, with delivery status, AI usage and who sent each. */
  messages(
    input: { conversationId: string; limit: number; cursor?: string | null },
    caller: Caller,
  ): Promise<Page<TMessage>>;
  /** Contacts by name, phone, email or company, and messages by text. */
  search(input: TConversationSearchInput, caller: Caller): Promise<TSearchResult>;
  /** Clears the unread count; announces the change when there was something unread. */
  markRead(conversationId: string, caller: Caller): Promise<{ conversationId: string; changed: boolean }>;
}

type MessageRow = Awaited<ReturnType<typeof q.listMessages>>[number];

/** Who sent a message: the recorded actor, else what its author says. */
export function sentByOf(
  m: Pick<MessageRow, 'author' | 'actorType' | 'actorId' | 'actorName'>,
): TMessage['sentBy'] {
  if (m.actorType) return { type: m.actorType, id: m.actorId, name: m.actorName };
  switch (m.author) {
    case 'contact':
      return { type: 'customer', id: null, name: null };
    case 'bot':
      return { type: 'bot', id: null, name: null };
    case 'agent':
      // Written before actors were recorded: an API key's id, or the business phone.
      return { type: 'apiKey', id: m.actorId, name: null };
    default:
      return { type: 'system', id: null, name: null };
  }
}

const assigneeOf = (r: { assigneeId: string | null; assigneeName: string | null }) =>
  r.assigneeId ? { id: r.assigneeId, name: r.assigneeName ?? '' } : null;

/** Message text is searched from this many characters on (trigrams need three). */
export const MESSAGE_SEARCH_MIN_LENGTH = 3;

export function createConversationsService(deps: { db: Db; visibility: Visibility }): ConversationsService {
  const { db, visibility } = deps;
  return {
    async list(input, caller) {
      const after = decodeCursor('conversations', input.cursor, 'timestamptz');
      let assigneeId: string | null | undefined;
      if (input.assignee === 'me') {
        if (caller.kind !== 'staff')
          throw badRequest("assignee: 'me' needs a signed-in person (API keys are nobody's)", {
            assignee: ["'me' needs a signed-in person"],
          });
        assigneeId = caller.id;
      } else if (input.assignee === 'unassigned') assigneeId = null;
      else assigneeId = input.assignee;
      const { assignee: _, ...filters } = input;
      const rows = await q.listConversations(db, {
        ...filters,
        assigneeId,
        visibleTo: visibility.limitOf(caller),
        after,
      });
      return toPage(
        'conversations',
        rows,
        input.limit,
        ({ sortKey: _, assigneeId, assigneeName, ...item }) => ({
          ...item,
          assignee: assigneeOf({ assigneeId, assigneeName }),
          windowClosesAt: windowClosesAt(item.channel, item.lastInboundAt),
        }),
      );
    },

    async get(id, caller) {
      const found = await q.findConversation(db, id);
      if (!found || !visibility.allows(found.assigneeId, caller)) throw notFound('Conversation', id);
      const { assigneeId, assigneeName, ...rest } = found;
      const conversation = {
        ...rest,
        assignee: assigneeOf({ assigneeId, assigneeName }),
        windowClosesAt: windowClosesAt(rest.channel, rest.lastInboundAt),
      };
      const [contact, history, openHandoff] = await Promise.all([
        cq.findContactIncludingDeleted(db, conversation.contactId),
        q.listOwnerChanges(db, { conversationId: id, limit: 20, after: null }),
        q.findOpenHandoff(db, id),
      ]);
      if (!contact) throw notFound('Conversation', id);
      return {
        conversation,
        contact,
        ownerHistory: history.slice(0, 20).map(({ sortKey: _, ...h }) => h),
        openHandoff,
      };
    },

    async messages(input, caller) {
      const after = decodeCursor('messages', input.cursor, 'timestamptz');
      await visibility.require(input.conversationId, caller);
      const rows = await q.listMessages(db, { ...input, after });
      const files = await mediaQ.mediaForMessages(
        db,
        rows.filter((r) => r.type !== 'text').map((r) => r.id),
      );
      const byMessage = new Map(files.map((f) => [f.messageId, mediaOf(f)]));
      return toPage('messages', rows, input.limit, ({ sortKey: _, actorType, actorName, card, ...m }) => ({
        ...m,
        sentBy: sentByOf({ ...m, actorType, actorName }),
        media: byMessage.get(m.id) ?? null,
        card: (card as TMessage['card']) ?? null,
      }));
    },

    async search(input, caller) {
      const after = decodeCursor('search', input.cursor, 'timestamptz');
      const visibleTo = visibility.limitOf(caller);
      const [contacts, messages] = await Promise.all([
        after ? Promise.resolve([]) : q.findContacts(db, { q: input.q, limit: input.limit, visibleTo }),
        input.q.length >= MESSAGE_SEARCH_MIN_LENGTH
          ? q.findMessages(db, { pattern: likePattern(input.q), limit: input.limit, after, visibleTo })
          : Promise.resolve([]),
      ]);
      return {
        contacts,
        messages: toPage('search', messages, input.limit, ({ sortKey: _, id, ...m }) => ({
          messageId: id,
          ...m,
        })),
      };
    },

    async markRead(conversationId, caller) {
      await visibility.require(conversationId, caller);
      return db.transaction(async (tx) => {
        const changed = await q.clearUnread(tx, conversationId);
        if (changed) {
          await recordEvents(tx, [{ type: 'conversation.updated', conversationId }]);
        } else if (!(await q.findConversation(tx, conversationId))) {
          throw notFound('Conversation', conversationId);
        }
        return { conversationId, changed };
      });
    },
  };
}
