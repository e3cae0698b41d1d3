import type { TActivity, TActivityCreateInput, TActivityListInput, TTimelineItem } from '../../contracts';
import * as q from '../../db/queries/activities';
import * as cq from '../../db/queries/contacts';
import * as dq from '../../db/queries/deals';
import { recordEvents } from '../../db/queries/events';
import type { Db } from '../../db/types';
import { badRequest, notFound } from '../../errors';
import { actorOf } from '../actor';
import type { Caller } from '../caller';
import { decodeCursor, encodeCursor } from '../pagination';

export interface ActivitiesService {
  list(input: TActivityListInput): Promise<{ items: TActivity[]; nextCursor: string | null }>;
  create(input: TActivityCreateInput, caller: Caller): Promise<TActivity>;
  /** Activities, deal changes and messages of a contact, newest first. */
  timeline(input: {
    contactId: string;
    limit: number;
    cursor?: string | null;
  }): Promise<{ items: TTimelineItem[]; nextCursor: string | null }>;
}

export function createActivitiesService(deps: { db: Db }): ActivitiesService {
  const { db } = deps;
  return {
    async list(input) {
      const after = decodeCursor('activities', input.cursor, 'timestamptz');
      const rows = await q.listActivities(db, { ...input, after });
      const more = rows.length > input.limit;
      const items = rows.slice(0, input.limit);
      const last = items.at(-1);
      return {
        items: items.map(({ sortKey: _, ...a }) => a),
        nextCursor: more && last ? encodeCursor('activities', { key: last.sortKey, id: last.id }) : null,
      };
    },

    async create(input, caller) {
      const actor = actorOf(caller);
      if (!(await cq.findContact(db, input.contactId))) throw notFound('Contact', input.contactId);
      if (input.dealId) {
        const deal = await dq.findDeal(db, input.dealId);
        if (!deal) throw notFound('Deal', input.dealId);
        if (deal.contactId !== input.contactId) {
          throw badRequest('dealId: the deal belongs to another contact', {
            dealId: ['belongs to another contact'],
          });
        }
      }
      return db.transaction(async (tx) => {
        const activity = await q.insertActivity(tx, {
          contactId: input.contactId,
          dealId: input.dealId ?? null,
          type: input.type,
          summary: input.summary,
          metadata: input.metadata ?? null,
          actorType: actor.type,
          actorId: actor.id,
          actorName: actor.name,
          occurredAt: input.occurredAt ?? new Date(),
        });
        await recordEvents(tx, [
          {
            type: 'activity.logged',
            activityId: activity.id,
            activityType: activity.type,
            contactId: activity.contactId,
            dealId: activity.dealId,
          },
        ]);
        return activity;
      });
    },

    async timeline(input) {
      if (!(await cq.findContact(db, input.contactId))) throw notFound('Contact', input.contactId);
      const after = decodeCursor('timeline', input.cursor, 'timestamptz');
      const rows = await q.listTimeline(db, { contactId: input.contactId, limit: input.limit, after });
      const more = rows.length > input.limit;
      const items = rows.slice(0, input.limit);
      const last = items.at(-1);
      return {
        items: items.map(({ sortKey: _, micros: __, ...r }) => r),
        nextCursor: more && last ? encodeCursor('timeline', { key: last.sortKey, id: last.id }) : null,
      };
    },
  };
}
