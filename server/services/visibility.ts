import * as q from '../db/queries/inbox';
import type { Db, DbOrTx } from '../db/types';
import { notFound } from '../errors';
import type { Caller } from './caller';

/**
 * Which conversations a caller may see. With AGENT_VISIBILITY=assigned, a signed-in agent sees the
 * conversations assigned to them and unassigned ones; admins, API keys and the server see all.
 * Every conversation-scoped service method calls `require` (one rule, one place); lists and searches
 * filter by `limitOf`. A conversation the caller may not see is NOT_FOUND, as if it did not exist.
 */
export interface Visibility {
  /** The staff id lists are limited to (assigned to them or to nobody), or undefined: no limit. */
  limitOf(caller: Caller): string | undefined;
  /** Throws NOT_FOUND unless the conversation exists and the caller may see it. */
  require(conversationId: string, caller: Caller, db?: DbOrTx): Promise<void>;
  /** Whether the caller may see a conversation with this assignee. */
  allows(assigneeId: string | null, caller: Caller): boolean;
}

export function createVisibility(deps: { db: Db; agentVisibility: 'all' | 'assigned' }): Visibility {
  const limitOf = (caller: Caller) =>
    deps.agentVisibility === 'assigned' && caller.kind === 'staff' && caller.role === 'agent'
      ? caller.id
      : undefined;
  const allows = (assigneeId: string | null, caller: Caller) => {
    const limit = limitOf(caller);
    return !limit || assigneeId === null || assigneeId === limit;
  };
  return {
    limitOf,
    allows,
    async require(conversationId, caller, db = deps.db) {
      const row = await q.findAssignee(db, conversationId);
      if (!row || !allows(row.assigneeId, caller)) throw notFound('Conversation', conversationId);
    },
  };
}
