import type {
  TBotHistoryInput,
  TBotSetEnabledBulkInput,
  TBotSetEnabledBulkResult,
  TBotSetEnabledInput,
  TBotSetEnabledResult,
  TBotStatus,
  TBotStatusInput,
  TBotSummary,
  TBotSummaryInput,
  TOwnerChange,
} from '../contracts';
import { setOwner } from '../conversation/ownership';
import * as bq from '../db/queries/bot';
import * as q from '../db/queries/conversations';
import type { Db } from '../db/types';
import { badRequest, notFound } from '../errors';
import { toE164 } from '../phone';
import { type Actor, actorOf } from './actor';
import type { Caller } from './caller';
import { decodeCursor, toPage } from './pagination';
import type { Visibility } from './visibility';

export interface BotService {
  status(input: TBotStatusInput, caller: Caller): Promise<TBotStatus>;
  /** Turns the bot on (owner bot) or off (owner human) for one conversation, by id or phone. */
  setEnabled(input: TBotSetEnabledInput, caller: Caller): Promise<TBotSetEnabledResult>;
  /**
   * The same for many conversations at once, reporting each one; nothing is logged for a missing id
   * (or one the caller may not see).
   */
  setEnabledBulk(input: TBotSetEnabledBulkInput, caller: Caller): Promise<TBotSetEnabledBulkResult>;
  /** Every owner change of a conversation, newest first. */
  history(
    input: TBotHistoryInput,
    caller: Caller,
  ): Promise<{ items: TOwnerChange[]; nextCursor: string | null }>;
  /** Conversations by owner, and the open handoffs with their waiting time, oldest first. */
  summary(input: TBotSummaryInput): Promise<TBotSummary>;
}

export function createBotService(deps: {
  db: Db;
  defaultRegion: string;
  visibility: Visibility;
}): BotService {
  const { db, visibility } = deps;

  function locate(input: { conversationId: string } | { phone: string }): { id: string } | { phone: string } {
    if ('conversationId' in input) return { id: input.conversationId };
    const phone = toE164(input.phone, deps.defaultRegion);
    if (!phone) {
      throw badRequest(`phone: "${input.phone}" is not a valid phone number`, {
        phone: ['is not a valid phone number'],
      });
    }
    return { phone };
  }

  async function status(input: TBotStatusInput, caller: Caller): Promise<TBotStatus> {
    const row = await q.findConversationWithPhone(db, locate(input));
    if (!row) throw notFound('Conversation');
    await visibility.require(row.id, caller);
    return {
      conversationId: row.id,
      contactId: row.contactId,
      phone: row.phone,
      owner: row.owner,
      botActive: row.owner === 'bot',
      ownerSince: row.ownerSince,
      ownerReason: row.ownerReason,
      botResumesAt: row.botResumesAt,
    };
  }

  const change = (
    tx: Parameters<typeof setOwner>[0],
    conversationId: string,
    p: { enabled: boolean; reason?: string; resumeInMinutes?: number },
    actor: Actor,
  ) =>
    setOwner(
      tx,
      {
        conversationId,
        to: p.enabled ? 'bot' : 'human',
        actorType: actor.type,
        actorId: actor.id,
        actorName: actor.name,
        reason: p.reason ?? null,
      },
      // Turned off by hand, the bot stays off unless a resume time was asked for.
      { humanQuietMinutes: p.enabled ? 0 : (p.resumeInMinutes ?? 0) },
    );

  return {
    status,

    async setEnabled(input, caller) {
      const actor = actorOf(caller);
      const found = await status(
        'conversationId' in input ? { conversationId: input.conversationId } : { phone: input.phone },
        caller,
      );
      const changed = await db.transaction((tx) => change(tx, found.conversationId, input, actor));
      return {
        changed,
        status: changed ? await status({ conversationId: found.conversationId }, caller) : found,
      };
    },

    async setEnabledBulk(input, caller) {
      const actor = actorOf(caller);
      const ids = [...new Set(input.conversationIds)];
      const results = await db.transaction(async (tx) => {
        const existing = await q.conversationIdsExisting(tx, ids);
        const out: TBotSetEnabledBulkResult['results'] = [];
        for (const id of ids) {
          const seen =
            existing.has(id) &&
            (await visibility.require(id, caller, tx).then(
              () => true,
              () => false,
            ));
          if (!seen) out.push({ conversationId: id, result: 'not_found' });
          else {
            const changed = await change(tx, id, input, actor);
            out.push({ conversationId: id, result: changed ? 'changed' : 'unchanged' });
          }
        }
        return out;
      });
      const count = (r: string) => results.filter((x) => x.result === r).length;
      return {
        results,
        changed: count('changed'),
        unchanged: count('unchanged'),
        notFound: count('not_found'),
      };
    },

    async history(input, caller) {
      const after = decodeCursor('bot-history', input.cursor, 'timestamptz');
      await visibility.require(input.conversationId, caller);
      const rows = await q.listOwnerChanges(db, { ...input, after });
      return toPage('bot-history', rows, input.limit, ({ sortKey: _, ...h }) => h);
    },

    async summary(input) {
      const [counts, items] = await Promise.all([bq.ownerCounts(db), bq.openHandoffs(db, input.limit)]);
      return {
        conversations: { bot: counts.bot, human: counts.human },
        openHandoffs: {
          count: counts.handoffs,
          items: items.map((h) => ({ ...h, waitingSeconds: Math.round(h.waitingSeconds) })),
        },
      };
    },
  };
}
