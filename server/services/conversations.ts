import type { TConversation } from '../contracts';
import * as q from '../db/queries/conversations';
import type { Db } from '../db/types';
import { notFound } from '../errors';

export interface ConversationsService {
  get(id: string): Promise<TConversation>;
}

export function createConversationsService(deps: { db: Db }): ConversationsService {
  return {
    async get(id) {
      const row = await q.findConversation(deps.db, id);
      if (!row) throw notFound('Conversation', id);
      return row;
    },
  };
}
