import { z } from 'zod';
import { ZId, ZPageInput, zPage } from './common';

export const ZTaskType = z.enum(['follow_up', 'call', 'meeting', 'email', 'handoff', 'other']);
export const ZTaskPriority = z.enum(['low', 'medium', 'high', 'urgent']);
export const ZTaskStatus = z.enum(['open', 'done']);

const ZTaskActor = z.object({ type: z.string(), id: z.string().nullable(), name: z.string().nullable() });

export const ZTask = z.object({
  id: ZId,
  contactId: ZId.nullable(),
  dealId: ZId.nullable(),
  conversationId: ZId.nullable(),
  title: z.string(),
  description: z.string().nullable(),
  type: ZTaskType,
  priority: ZTaskPriority,
  status: ZTaskStatus,
  dueAt: z.date().nullable(),
  completedAt: z.date().nullable(),
  createdBy: z.string().nullable(),
  /** Who created and who completed the task: kind (staff, apiKey, system, bot), id and name. */
  createdByActor: ZTaskActor.nullable(),
  completedByActor: ZTaskActor.nullable(),
  createdAt: z.date(),
  updatedAt: z.date(),
});
export type TTask = z.infer<typeof ZTask>;

/**
 * Tasks in due order (undated last). `due`: overdue = open and past due; today = due before the end of
 * the current UTC day (overdue ones included); upcoming = due from now on.
 */
export const ZTaskListInput = ZPageInput.extend({
  status: ZTaskStatus.optional(),
  due: z.enum(['overdue', 'today', 'upcoming']).optional(),
  dueBefore: z.date().optional(),
  dueAfter: z.date().optional(),
  contactId: ZId.optional(),
  dealId: ZId.optional(),
  conversationId: ZId.optional(),
  type: ZTaskType.optional(),
  priority: ZTaskPriority.optional(),
}).default({ limit: 25 });
export type TTaskListInput = z.infer<typeof ZTaskListInput>;
export const ZTaskPage = zPage(ZTask);

export const ZTaskCreateInput = z.object({
  title: z.string().trim().min(1, { error: 'title is required' }).max(300),
  description: z.string().trim().max(5000).nullish(),
  type: ZTaskType.default('follow_up'),
  priority: ZTaskPriority.default('medium'),
  dueAt: z.date().nullish(),
  contactId: ZId.nullish(),
  dealId: ZId.nullish(),
  conversationId: ZId.nullish(),
});
export type TTaskCreateInput = z.infer<typeof ZTaskCreateInput>;

export const ZTaskUpdateInput = z
  .object({
    id: ZId,
    title: z.string().trim().min(1).max(300).optional(),
    description: z.string().trim().max(5000).nullish(),
    type: ZTaskType.optional(),
    priority: ZTaskPriority.optional(),
    dueAt: z.date().nullish(),
    contactId: ZId.nullish(),
    dealId: ZId.nullish(),
  })
  .strict();
export type TTaskUpdateInput = z.infer<typeof ZTaskUpdateInput>;

export const ZTaskIdInput = z.object({ id: ZId });
