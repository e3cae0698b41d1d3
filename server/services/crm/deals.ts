import type {
  TAppEvent,
  TDeal,
  TDealCreateInput,
  TDealListInput,
  TDealMoveStageInput,
  TDealUpdateInput,
  TPipelineSummary,
} from '../../contracts';
import { DEAL_STAGE_VALUES } from '../../contracts';
import * as acts from '../../db/queries/activities';
import * as cq from '../../db/queries/contacts';
import * as q from '../../db/queries/deals';
import { recordEvents } from '../../db/queries/events';
import type { Db, DbOrTx } from '../../db/types';
import { notFound } from '../../errors';
import { type Actor, actorOf } from '../actor';
import type { Caller } from '../caller';
import type { RescoreScheduler } from '../lead-qualification';
import { decodeCursor, toPage } from '../pagination';

export interface DealsService {
  list(input: TDealListInput): Promise<{ items: TDeal[]; nextCursor: string | null }>;
  create(input: TDealCreateInput, caller: Caller): Promise<TDeal>;
  update(input: TDealUpdateInput, caller: Caller): Promise<TDeal>;
  /** Moves a deal to another stage and records it on the contact's timeline. */
  moveStage(input: TDealMoveStageInput, caller: Caller): Promise<{ changed: boolean; deal: TDeal }>;
  delete(id: string, caller: Caller): Promise<void>;
  pipeline(): Promise<TPipelineSummary>;
}

/** The deal fields `deals.update` changes (the stage moves through `moveStage`). */
type TDealEventField = Extract<TAppEvent, { type: 'deal.updated' }>['fields'][number];

const isClosed = (stage: string) => stage === 'won' || stage === 'lost';

export function createDealsService(deps: { db: Db; rescore?: RescoreScheduler }): DealsService {
  const { db } = deps;

  // Every change of a deal goes through here: its activity, and its contact's score update.
  const record = async (
    tx: DbOrTx,
    deal: { id: string; contactId: string },
    actor: Actor,
    type: string,
    summary: string,
    metadata: Record<string, unknown>,
  ) => {
    await deps.rescore?.(tx, [deal.contactId]);
    return acts.insertActivity(tx, {
      contactId: deal.contactId,
      dealId: deal.id,
      type,
      summary: summary.slice(0, 500),
      metadata,
      actorType: actor.type,
      actorId: actor.id,
      actorName: actor.name,
    });
  };

  return {
    async list(input) {
      const after = decodeCursor('deals', input.cursor, 'timestamptz');
      const rows = await q.listDeals(db, { ...input, after });
      return toPage('deals', rows, input.limit, ({ sortKey: _, ...d }) => d);
    },

    create(input, caller) {
      const actor = actorOf(caller);
      return db.transaction(async (tx) => {
        if (!(await cq.findContact(tx, input.contactId))) throw notFound('Contact', input.contactId);
        const deal = await q.insertDeal(tx, {
          contactId: input.contactId,
          title: input.title,
          stage: input.stage,
          value: input.value,
          currency: input.currency,
          probability: input.probability ?? null,
          expectedCloseAt: input.expectedCloseAt ?? null,
          closedAt: isClosed(input.stage) ? new Date() : null,
        });
        await record(
          tx,
          deal,
          actor,
          'deal_created',
          `Deal created: ${deal.title} (${deal.value} ${deal.currency})`,
          {
            stage: deal.stage,
            value: deal.value,
            currency: deal.currency,
          },
        );
        await recordEvents(tx, [{ type: 'deal.created', dealId: deal.id, contactId: deal.contactId }]);
        return deal;
      });
    },

    update(input, caller) {
      const actor = actorOf(caller);
      const patch: Pick<q.DealPatch, TDealEventField> = {};
      if (input.title !== undefined) patch.title = input.title;
      if (input.value !== undefined) patch.value = input.value;
      if (input.currency !== undefined) patch.currency = input.currency;
      if (input.probability !== undefined) patch.probability = input.probability;
      if (input.expectedCloseAt !== undefined) patch.expectedCloseAt = input.expectedCloseAt;
      return db.transaction(async (tx) => {
        const before = await q.findDeal(tx, input.id, { lock: true });
        if (!before) throw notFound('Deal', input.id);
        const deal = await q.updateDeal(tx, input.id, patch);
        if (!deal) throw notFound('Deal', input.id);
        const changed = (Object.keys(patch) as TDealEventField[]).filter(
          (k) =>
            String(before[k as keyof typeof before] ?? '') !== String(deal[k as keyof typeof deal] ?? ''),
        );
        if (changed.length) {
          await record(
            tx,
            deal,
            actor,
            'deal_updated',
            `Deal updated: ${deal.title} (${changed.join(', ')})`,
            {
              fields: changed,
              value: deal.value,
              currency: deal.currency,
            },
          );
          await recordEvents(tx, [
            { type: 'deal.updated', dealId: deal.id, contactId: deal.contactId, fields: changed },
          ]);
        }
        return deal;
      });
    },

    moveStage(input, caller) {
      const actor = actorOf(caller);
      return db.transaction(async (tx) => {
        const before = await q.findDeal(tx, input.id, { lock: true });
        if (!before) throw notFound('Deal', input.id);
        if (before.stage === input.stage) return { changed: false, deal: before };
        const deal = await q.updateDeal(tx, input.id, {
          stage: input.stage,
          closedAt: isClosed(input.stage) ? new Date() : null,
        });
        if (!deal) throw notFound('Deal', input.id);
        await record(
          tx,
          deal,
          actor,
          'deal_stage_changed',
          `Deal ${deal.title} moved from ${before.stage} to ${deal.stage}${input.note ? `: ${input.note}` : ''}`,
          { from: before.stage, to: deal.stage, note: input.note ?? null },
        );
        await recordEvents(tx, [
          {
            type: 'deal.stage_changed',
            dealId: deal.id,
            contactId: deal.contactId,
            from: before.stage,
            to: deal.stage,
          },
        ]);
        return { changed: true, deal };
      });
    },

    async delete(id, caller) {
      const actor = actorOf(caller);
      await db.transaction(async (tx) => {
        const deal = await q.softDeleteDeal(tx, id, new Date());
        if (!deal) throw notFound('Deal', id);
        await record(tx, deal, actor, 'deal_deleted', `Deal deleted: ${deal.title}`, {});
        await recordEvents(tx, [{ type: 'deal.deleted', dealId: deal.id, contactId: deal.contactId }]);
      });
    },

    async pipeline() {
      const [byStage, open] = await Promise.all([q.pipelineTotals(db), q.openPipelineTotals(db)]);
      return {
        stages: DEAL_STAGE_VALUES.map((stage) => {
          const rows = byStage.filter((r) => r.stage === stage);
          return {
            stage,
            count: rows.reduce((n, r) => n + r.count, 0),
            values: rows.map((r) => ({ currency: r.currency, value: r.value })),
          };
        }),
        open: {
          count: open.reduce((n, r) => n + r.count, 0),
          values: open.map((r) => ({ currency: r.currency, value: r.value })),
        },
      };
    },
  };
}
