import { and, eq, gte, lt, type SQL, sql } from 'drizzle-orm';
import { type TaskPriority, type TaskStatus, type TaskType, tasks } from '../../../drizzle';
import type { DbOrTx } from '../types';
import { afterKeyset, type Keyset, keysetOrder, keyText } from './keyset';
import { builtOnce } from './prepared';

export const taskColumns = {
  id: tasks.id,
  contactId: tasks.contactId,
  dealId: tasks.dealId,
  conversationId: tasks.conversationId,
  title: tasks.title,
  description: tasks.description,
  type: tasks.type,
  priority: tasks.priority,
  status: tasks.status,
  dueAt: tasks.dueAt,
  completedAt: tasks.completedAt,
  createdBy: tasks.createdBy,
  createdByActor: tasks.createdByActor,
  completedByActor: tasks.completedByActor,
  createdAt: tasks.createdAt,
  updatedAt: tasks.updatedAt,
};

export type TaskInsert = typeof tasks.$inferInsert;

export async function insertTask(db: DbOrTx, row: TaskInsert) {
  const [created] = await db.insert(tasks).values(row).returning(taskColumns);
  return created!;
}

export async function findTask(db: DbOrTx, id: string) {
  const [row] = await db.select(taskColumns).from(tasks).where(eq(tasks.id, id)).limit(1);
  return row ?? null;
}

/** Undated tasks sort after every dated one. */
const dueKey = sql`coalesce(${tasks.dueAt}, 'infinity'::timestamptz)`;

export interface TaskListFilter {
  status?: TaskStatus;
  due?: 'overdue' | 'today' | 'upcoming';
  dueBefore?: Date;
  dueAfter?: Date;
  contactId?: string;
  dealId?: string;
  conversationId?: string;
  type?: TaskType;
  priority?: TaskPriority;
  now: Date;
  endOfToday: Date;
  limit: number;
  after: Keyset | null;
}

/** Tasks by due time, earliest first, undated last. */
export function listTasks(db: DbOrTx, f: TaskListFilter) {
  const where: (SQL | undefined)[] = [
    f.status ? eq(tasks.status, f.status) : undefined,
    f.due === 'overdue' ? and(eq(tasks.status, 'open'), lt(tasks.dueAt, f.now)) : undefined,
    f.due === 'today' ? lt(tasks.dueAt, f.endOfToday) : undefined,
    f.due === 'upcoming' ? gte(tasks.dueAt, f.now) : undefined,
    f.dueBefore ? lt(tasks.dueAt, f.dueBefore) : undefined,
    f.dueAfter ? gte(tasks.dueAt, f.dueAfter) : undefined,
    f.contactId ? eq(tasks.contactId, f.contactId) : undefined,
    f.dealId ? eq(tasks.dealId, f.dealId) : undefined,
    f.conversationId ? eq(tasks.conversationId, f.conversationId) : undefined,
    f.type ? eq(tasks.type, f.type) : undefined,
    f.priority ? eq(tasks.priority, f.priority) : undefined,
    afterKeyset(dueKey, tasks.id, 'asc', f.after, 'timestamptz'),
  ];
  return db
    .select({ ...taskColumns, sortKey: keyText(dueKey) })
    .from(tasks)
    .where(and(...where))
    .orderBy(keysetOrder(dueKey, tasks.id, 'asc'))
    .limit(f.limit + 1);
}

const openTasksOfContact = builtOnce((db) =>
  db
    .select(taskColumns)
    .from(tasks)
    .where(and(eq(tasks.contactId, sql.placeholder('contactId')), eq(tasks.status, 'open')))
    .orderBy(keysetOrder(dueKey, tasks.id, 'asc'))
    .limit(100),
);

export function listOpenTasksOfContact(db: DbOrTx, contactId: string) {
  return openTasksOfContact(db).execute({ contactId });
}

export type TaskPatch = Partial<
  Pick<
    TaskInsert,
    | 'title'
    | 'description'
    | 'type'
    | 'priority'
    | 'dueAt'
    | 'contactId'
    | 'dealId'
    | 'status'
    | 'completedAt'
    | 'completedByActor'
  >
>;

export async function updateTask(db: DbOrTx, id: string, patch: TaskPatch, where?: SQL) {
  const [row] = await db
    .update(tasks)
    .set({ ...patch, updatedAt: new Date() })
    .where(and(eq(tasks.id, id), where))
    .returning(taskColumns);
  return row ?? null;
}

export async function deleteTask(db: DbOrTx, id: string) {
  const rows = await db.delete(tasks).where(eq(tasks.id, id)).returning({ id: tasks.id });
  return rows.length > 0;
}

export const taskIsOpen = eq(tasks.status, 'open');
export const taskIsDone = eq(tasks.status, 'done');
