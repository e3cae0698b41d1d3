import {
  SNOOZE_MAX_DAYS,
  type TAssignInput,
  type TAssignResult,
  type TInboxCounts,
  type TLabelsChangeInput,
  type TLabelsResult,
  type TLabelsSetInput,
  type TNote,
  type TNoteAddInput,
  type TNoteDeleteInput,
  type TSetStatusInput,
  type TSetStatusResult,
} from '../contracts';
import { closeHumanTurn } from '../conversation/inbox';
import { setOwner } from '../conversation/ownership';
import { recordEvents } from '../db/queries/events';
import * as q from '../db/queries/inbox';
import type { Db, DbOrTx } from '../db/types';
import { AppError, badRequest, notFound } from '../errors';
import type { JobQueue } from '../jobs/queue';
import type { Logger } from '../logger';
import { actorOf } from './actor';
import type { Caller } from './caller';
import type { Visibility } from './visibility';

/** The job that opens a snoozed conversation at its time. */
export const QUEUE_INBOX_WAKE = 'inbox.wake';
export interface WakeJob {
  conversationId: string;
  /** The snooze this job ends (ISO time): a later snooze or a reopening makes it do nothing. */
  until: string;
}

/** Assignment, status, private notes and labels of conversations: the team inbox. */
export interface InboxService {
  assign(input: TAssignInput, caller: Caller): Promise<TAssignResult>;
  setStatus(input: TSetStatusInput, caller: Caller): Promise<TSetStatusResult>;
  counts(caller: Caller): Promise<TInboxCounts>;
  addNote(input: TNoteAddInput, caller: Caller): Promise<TNote>;
  listNotes(input: { conversationId: string }, caller: Caller): Promise<{ items: TNote[] }>;
  deleteNote(input: TNoteDeleteInput, caller: Caller): Promise<{ ok: true }>;
  setLabels(input: TLabelsSetInput, caller: Caller): Promise<TLabelsResult>;
  addLabels(input: TLabelsChangeInput, caller: Caller): Promise<TLabelsResult>;
  removeLabels(input: TLabelsChangeInput, caller: Caller): Promise<TLabelsResult>;
}

export function createInboxService(deps: {
  db: Db;
  visibility: Visibility;
  queue?: JobQueue;
  /** Read at each use: the pipeline's live settings (the quiet time). */
  humanQuietMinutes: () => number;
}): InboxService {
  const { db, visibility } = deps;

  /** The conversation locked in `tx`, if the caller may see it. */
  async function lockVisible(tx: DbOrTx, conversationId: string, caller: Caller) {
    const state = await q.lockInboxState(tx, conversationId);
    if (!state || !visibility.allows(state.assigneeId, caller))
      throw notFound('Conversation', conversationId);
    return state;
  }

  /**
   * Who may assign: admins (people and keys) and the server anything; a signed-in agent may claim an
   * unassigned conversation (to themselves) and reassign or unassign their own; an agent API key (a
   * script with no person behind it) may assign unassigned conversations to anyone.
   */
  function checkAssign(caller: Caller, current: string | null, target: string | null) {
    if (caller.role === 'admin') return;
    if (caller.kind === 'staff') {
      if (current === caller.id) return;
      if (current === null && target === caller.id) return;
      throw new AppError(
        'FORBIDDEN',
        current === null
          ? 'Agents may only assign unassigned conversations to themselves'
          : 'This conversation is assigned to someone else; an admin can reassign it',
      );
    }
    if (current === null) return;
    throw new AppError('FORBIDDEN', 'An agent key may only assign unassigned conversations');
  }

  async function changeLabels(
    conversationId: string,
    caller: Caller,
    next: (labels: string[]) => string[],
  ): Promise<TLabelsResult> {
    return db.transaction(async (tx) => {
      const state = await lockVisible(tx, conversationId, caller);
      const labels = [...new Set(next(state.labels))].sort();
      if (labels.length > 20)
        throw badRequest('A conversation has at most 20 labels', { labels: ['too many'] });
      const changed = labels.join('\u0000') !== [...state.labels].sort().join('\u0000');
      if (changed) {
        await q.setLabels(tx, conversationId, labels);
        await recordEvents(tx, [{ type: 'conversation.labels', conversationId, labels }]);
      }
      return { conversationId, labels, changed };
    });
  }

  const toNote = (n: Awaited<ReturnType<typeof q.listNotes>>[number]): TNote => ({
    id: n.id,
    conversationId: n.conversationId,
    body: n.body,
    author: { type: n.authorType as TNote['author']['type'], id: n.authorId, name: n.authorName },
    createdAt: n.createdAt,
  });

  return {
    async assign(input, caller) {
      return db.transaction(async (tx) => {
        const state = await lockVisible(tx, input.conversationId, caller);
        let assignee: { id: string; name: string } | null = null;
        if (input.staffId) {
          const person = await q.findStaffMember(tx, input.staffId);
          if (!person?.active)
            throw badRequest(`staffId: no active staff member ${input.staffId}`, {
              staffId: ['is not an active staff member'],
            });
          assignee = { id: person.id, name: person.name };
        }
        if (state.assigneeId === (assignee?.id ?? null)) {
          return { conversationId: input.conversationId, assignee, changed: false };
        }
        checkAssign(caller, state.assigneeId, assignee?.id ?? null);
        await q.setAssignee(tx, input.conversationId, assignee?.id ?? null);
        await recordEvents(tx, [
          {
            type: 'conversation.assigned',
            conversationId: input.conversationId,
            assigneeId: assignee?.id ?? null,
            assigneeName: assignee?.name ?? null,
          },
        ]);
        return { conversationId: input.conversationId, assignee, changed: true };
      });
    },

    async setStatus(input, caller) {
      const now = new Date();
      let until: Date | null = null;
      if (input.status === 'snoozed') {
        until = input.until!;
        if (until.getTime() <= now.getTime() + 1000)
          throw badRequest('until: a snooze must end in the future', { until: ['must be in the future'] });
        if (until.getTime() > now.getTime() + SNOOZE_MAX_DAYS * 86_400_000)
          throw badRequest(`until: a snooze lasts at most ${SNOOZE_MAX_DAYS} days`, {
            until: [`must be within ${SNOOZE_MAX_DAYS} days`],
          });
      }
      const actor = actorOf(caller);
      const result = await db.transaction(async (tx) => {
        const state = await lockVisible(tx, input.conversationId, caller);
        const same =
          state.status === input.status &&
          (state.snoozedUntil?.getTime() ?? null) === (until?.getTime() ?? null);
        if (same) return { changed: false };
        await q.setStatus(tx, input.conversationId, input.status, until);
        if (input.status === 'resolved') {
          // Resolving ends the human turn (measured, handoff task done) and gives the bot back.
          await closeHumanTurn(tx, input.conversationId, actor, { resolved: true, at: now });
          await setOwner(
            tx,
            {
              conversationId: input.conversationId,
              to: 'bot',
              actorType: actor.type,
              actorId: actor.id,
              actorName: actor.name,
              reason: 'Resolved',
              at: now,
            },
            { humanQuietMinutes: deps.humanQuietMinutes() },
          );
        }
        if (until) {
          if (!deps.queue) throw new AppError('PRECONDITION_FAILED', 'Snoozing needs the job queue');
          await deps.queue.send<WakeJob>(
            QUEUE_INBOX_WAKE,
            { conversationId: input.conversationId, until: until.toISOString() },
            { startAfter: until, tx },
          );
        }
        await recordEvents(tx, [
          {
            type: 'conversation.status',
            conversationId: input.conversationId,
            status: input.status,
            snoozedUntil: until?.toISOString() ?? null,
          },
        ]);
        return { changed: true };
      });
      return {
        conversationId: input.conversationId,
        status: input.status,
        snoozedUntil: until,
        changed: result.changed,
      };
    },

    async counts(caller) {
      const r = await q.inboxCounts(db, {
        me: caller.kind === 'staff' ? caller.id : null,
        visibleTo: visibility.limitOf(caller) ?? null,
      });
      return {
        mine: Number(r.mine),
        unassigned: Number(r.unassigned),
        all: Number(r.all),
        byStatus: {
          open: Number(r.open),
          pending: Number(r.pending),
          resolved: Number(r.resolved),
          snoozed: Number(r.snoozed),
        },
      };
    },

    async addNote(input, caller) {
      const actor = actorOf(caller);
      return db.transaction(async (tx) => {
        await lockVisible(tx, input.conversationId, caller);
        const note = await q.insertNote(tx, {
          conversationId: input.conversationId,
          body: input.body,
          authorType: actor.type,
          authorId: actor.id,
          authorName: actor.name,
        });
        await recordEvents(tx, [
          {
            type: 'conversation.note',
            conversationId: input.conversationId,
            noteId: note.id,
            action: 'added',
          },
        ]);
        return toNote(note);
      });
    },

    async listNotes(input, caller) {
      await visibility.require(input.conversationId, caller);
      return { items: (await q.listNotes(db, input.conversationId)).map(toNote) };
    },

    /** The author deletes their own note; admins any note. */
    async deleteNote(input, caller) {
      return db.transaction(async (tx) => {
        await lockVisible(tx, input.conversationId, caller);
        const note = await q.findNote(tx, input.conversationId, input.noteId);
        if (!note) throw notFound('Note', input.noteId);
        const actor = actorOf(caller);
        if (caller.role !== 'admin' && !(note.authorType === actor.type && note.authorId === actor.id))
          throw new AppError('FORBIDDEN', 'Only the author or an admin may delete a note');
        await q.deleteNote(tx, note.id);
        await recordEvents(tx, [
          {
            type: 'conversation.note',
            conversationId: input.conversationId,
            noteId: note.id,
            action: 'deleted',
          },
        ]);
        return { ok: true as const };
      });
    },

    setLabels: (input, caller) => changeLabels(input.conversationId, caller, () => input.labels),
    addLabels: (input, caller) =>
      changeLabels(input.conversationId, caller, (labels) => [...labels, ...input.labels]),
    removeLabels: (input, caller) =>
      changeLabels(input.conversationId, caller, (labels) => labels.filter((l) => !input.labels.includes(l))),
  };
}

/** Creates the snooze wake-up queue; every process does this. */
export async function defineInboxQueues(queue: JobQueue): Promise<void> {
  await queue.define({ name: QUEUE_INBOX_WAKE, retryLimit: 5, retryDelay: 10, expireInSeconds: 60 });
}

/**
 * Starts this process's wake-up worker. The job is idempotent: it opens the conversation only while it
 * is still snoozed until that very time, so a run twice, a later snooze or a reopening do nothing.
 */
export async function startInboxWorkers(deps: { db: Db; queue: JobQueue; log: Logger }): Promise<void> {
  await deps.queue.work<WakeJob>(QUEUE_INBOX_WAKE, { concurrency: 2 }, async (job) => {
    const woke = await wakeConversation(deps.db, job.data);
    deps.log.debug({ conversationId: job.data.conversationId, woke }, 'snooze wake-up done');
  });
}

/** Opens a conversation whose snooze ended (see startInboxWorkers); returns whether it opened. */
export async function wakeConversation(db: Db, job: WakeJob): Promise<boolean> {
  const until = new Date(job.until);
  if (Number.isNaN(until.getTime())) return false;
  return db.transaction(async (tx) => {
    const woke = await q.wakeSnoozed(tx, job.conversationId, until);
    if (woke) {
      await recordEvents(tx, [
        {
          type: 'conversation.status',
          conversationId: job.conversationId,
          status: 'open',
          snoozedUntil: null,
        },
      ]);
    }
    return woke;
  });
}
