import type {
  TConversationDetail,
  TConversationListInput,
  TConversationListItem,
  TConversationSearchInput,
  TMessage,
  TSearchResult,
} from '../contracts';
import * as cq from '../db/queries/contacts';
import * as q from '../db/queries/conversations';
import { recordEvents } from '../db/queries/events';
import { likePattern } from '../db/queries/keyset';
import type { Db } from '../db/types';
import { notFound } from '../errors';
import { decodeCursor, toPage } from './pagination';

type Page<T> = { items: T[]; nextCursor: string | null };

export interface ConversationsService {
  /** The inbox: newest activity first, with the filters a dashboard needs. */
  list(input: TConversationListInput): Promise<Page<TConversationListItem>>;
  /** A conversation with its contact, its latest owner changes and its open handoff. */
  get(id: string): Promise<TConversationDetail>;
  /** Messages, newest first, with delivery status and AI usage. */
  messages(input: { conversationId: string; limit: number; cursor?: string | null }): Promise<Page<TMessage>>;
  /** Contacts by name, phone, email or company, and messages by text. */
  search(input: TConversationSearchInput): Promise<TSearchResult>;
  /** Clears the unread count; announces the change when there was something unread. */
  markRead(conversationId: string): Promise<{ conversationId: string; changed: boolean }>;
}

/** Message text is searched from this many characters on (trigrams need three). */
export const MESSAGE_SEARCH_MIN_LENGTH = 3;

export function createConversationsService(deps: { db: Db }): ConversationsService {
  const { db } = deps;
  return {
    async list(input) {
      const after = decodeCursor('conversations', input.cursor, 'timestamptz');
      const rows = await q.listConversations(db, { ...input, after });
      return toPage('conversations', rows, input.limit, ({ sortKey: _, ...item }) => item);
    },

    async get(id) {
      const conversation = await q.findConversation(db, id);
      if (!conversation) throw notFound('Conversation', id);
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

    async messages(input) {
      const after = decodeCursor('messages', input.cursor, 'timestamptz');
      if (!(await q.findConversation(db, input.conversationId))) {
        throw notFound('Conversation', input.conversationId);
      }
      const rows = await q.listMessages(db, { ...input, after });
      return toPage('messages', rows, input.limit, ({ sortKey: _, ...m }) => m);
    },

    async search(input) {
      const after = decodeCursor('search', input.cursor, 'timestamptz');
      const [contacts, messages] = await Promise.all([
        after ? Promise.resolve([]) : q.findContacts(db, { q: input.q, limit: input.limit }),
        input.q.length >= MESSAGE_SEARCH_MIN_LENGTH
          ? q.findMessages(db, { pattern: likePattern(input.q), limit: input.limit, after })
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

    async markRead(conversationId) {
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
