import type { TTask, TTaskCreateInput, TTaskListInput, TTaskUpdateInput } from '../../contracts';
import * as acts from '../../db/queries/activities';
import * as cq from '../../db/queries/contacts';
import * as convq from '../../db/queries/conversations';
import * as dq from '../../db/queries/deals';
import { recordEvents } from '../../db/queries/events';
import * as q from '../../db/queries/tasks';
import type { Db, DbOrTx } from '../../db/types';
import { badRequest, notFound } from '../../errors';
import { type Actor, actorOf } from '../actor';
import type { Caller } from '../caller';
import type { RescoreScheduler } from '../lead-qualification';
import { decodeCursor, toPage } from '../pagination';

export interface TasksService {
  list(input: TTaskListInput): Promise<{ items: TTask[]; nextCursor: string | null }>;
  create(input: TTaskCreateInput, caller: Caller): Promise<TTask>;
  update(input: TTaskUpdateInput): Promise<TTask>;
  complete(id: string, caller: Caller): Promise<TTask>;
  reopen(id: string): Promise<TTask>;
  delete(id: string): Promise<void>;
}

function endOfUtcDay(now: Date): Date {
  const d = new Date(now);
  d.setUTCHours(24, 0, 0, 0);
  return d;
}

export function createTasksService(deps: { db: Db; rescore?: RescoreScheduler }): TasksService {
  const { db } = deps;

  /** Checks the linked records exist; a deal's contact becomes the task's contact when none is given. */
  async function resolveLinks(
    tx: DbOrTx,
    links: { contactId?: string | null; dealId?: string | null; conversationId?: string | null },
  ) {
    let contactId = links.contactId;
    if (links.dealId) {
      const deal = await dq.findDeal(tx, links.dealId);
      if (!deal) throw notFound('Deal', links.dealId);
      if (contactId && contactId !== deal.contactId) {
        throw badRequest('dealId: the deal belongs to another contact', {
          dealId: ['belongs to another contact'],
        });
      }
      contactId ??= deal.contactId;
    }
    if (contactId && !(await cq.findContact(tx, contactId))) throw notFound('Contact', contactId);
    if (links.conversationId && !(await convq.findConversation(tx, links.conversationId))) {
      throw notFound('Conversation', links.conversationId);
    }
    return contactId;
  }

  async function setStatus(id: string, done: boolean, actor?: Actor) {
    return db.transaction(async (tx) => {
      const task = await q.updateTask(
        tx,
        id,
        done
          ? {
              status: 'done',
              completedAt: new Date(),
              completedByActor: actor ? { type: actor.type, id: actor.id, name: actor.name } : null,
            }
          : { status: 'open', completedAt: null, completedByActor: null },
        done ? q.taskIsOpen : q.taskIsDone,
      );
      if (!task) {
        const existing = await q.findTask(tx, id);
        if (!existing) throw notFound('Task', id);
        return existing;
      }
      // Done tasks count in the lead score.
      await deps.rescore?.(tx, [task.contactId]);
      if (done) {
        await recordEvents(tx, [
          {
            type: 'task.completed',
            taskId: task.id,
            contactId: task.contactId,
            dealId: task.dealId,
            conversationId: task.conversationId,
          },
        ]);
      }
      if (done && actor && task.contactId) {
        await acts.insertActivity(tx, {
          contactId: task.contactId,
          dealId: task.dealId,
          type: 'task_completed',
          summary: `Task completed: ${task.title}`.slice(0, 500),
          metadata: { taskId: task.id, taskType: task.type },
          actorType: actor.type,
          actorId: actor.id,
          actorName: actor.name,
        });
      }
      return task;
    });
  }

  return {
    async list(input) {
      const after = decodeCursor('tasks', input.cursor, 'timestamptz');
      const now = new Date();
      const rows = await q.listTasks(db, { ...input, now, endOfToday: endOfUtcDay(now), after });
      return toPage('tasks', rows, input.limit, ({ sortKey: _, ...t }) => t);
    },

    create(input, caller) {
      const actor = actorOf(caller);
      return db.transaction(async (tx) => {
        const contactId = await resolveLinks(tx, input);
        const task = await q.insertTask(tx, {
          title: input.title,
          description: input.description ?? null,
          type: input.type,
          priority: input.priority,
          dueAt: input.dueAt ?? null,
          contactId: contactId ?? null,
          dealId: input.dealId ?? null,
          conversationId: input.conversationId ?? null,
          createdBy: actor.id,
          createdByActor: { type: actor.type, id: actor.id, name: actor.name },
        });
        await recordEvents(tx, [
          {
            type: 'task.created',
            taskId: task.id,
            contactId: task.contactId,
            dealId: task.dealId,
            conversationId: task.conversationId,
          },
        ]);
        return task;
      });
    },

    update(input) {
      return db.transaction(async (tx) => {
        const existing = await q.findTask(tx, input.id);
        if (!existing) throw notFound('Task', input.id);
        const patch: q.TaskPatch = {};
        if (input.title !== undefined) patch.title = input.title;
        if (input.description !== undefined) patch.description = input.description || null;
        if (input.type !== undefined) patch.type = input.type;
        if (input.priority !== undefined) patch.priority = input.priority;
        if (input.dueAt !== undefined) patch.dueAt = input.dueAt;
        if (input.contactId !== undefined || input.dealId !== undefined) {
          const contactId = input.contactId === undefined ? existing.contactId : input.contactId;
          const dealId = input.dealId === undefined ? existing.dealId : input.dealId;
          patch.contactId = (await resolveLinks(tx, { contactId, dealId })) ?? null;
          patch.dealId = dealId;
        }
        const task = await q.updateTask(tx, input.id, patch);
        if (!task) throw notFound('Task', input.id);
        if (task.status === 'done' && task.contactId !== existing.contactId)
          await deps.rescore?.(tx, [existing.contactId, task.contactId]);
        return task;
      });
    },

    complete: (id, caller) => setStatus(id, true, actorOf(caller)),
    reopen: (id) => setStatus(id, false),

    async delete(id) {
      await db.transaction(async (tx) => {
        const existing = await q.findTask(tx, id);
        if (!existing || !(await q.deleteTask(tx, id))) throw notFound('Task', id);
        if (existing.status === 'done') await deps.rescore?.(tx, [existing.contactId]);
      });
    },
  };
}
