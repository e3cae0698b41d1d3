import type {
  TContact,
  TContactCreateInput,
  TContactDetail,
  TContactListInput,
  TContactTagsInput,
  TContactTagsResult,
  TContactUpdateInput,
} from '../../contracts';
import * as acts from '../../db/queries/activities';
import * as q from '../../db/queries/contacts';
import * as dq from '../../db/queries/deals';
import { recordEvents } from '../../db/queries/events';
import { STATUS_CHANGE_ACTIVITY } from '../../db/queries/leads';
import * as tq from '../../db/queries/tasks';
import type { Db, DbOrTx } from '../../db/types';
import { badRequest, conflict, isUniqueViolation, notFound } from '../../errors';
import { toE164 } from '../../phone';
import { actorOf } from '../actor';
import type { Caller } from '../caller';
import { type RescoreScheduler, toLeadQualification } from '../lead-qualification';
import { decodeCursor, toPage } from '../pagination';

export interface ContactsService {
  list(input: TContactListInput): Promise<{ items: TContact[]; nextCursor: string | null }>;
  get(id: string): Promise<TContactDetail>;
  create(input: TContactCreateInput): Promise<TContact>;
  update(input: TContactUpdateInput, caller: Caller): Promise<TContact>;
  /** Soft delete: the contact disappears from lists; its phone stays taken. */
  delete(id: string): Promise<void>;
  addTags(input: TContactTagsInput): Promise<TContactTagsResult>;
  removeTags(input: TContactTagsInput): Promise<TContactTagsResult>;
}

export function normalisePhone(input: string, defaultRegion: string): string {
  const phone = toE164(input, defaultRegion);
  if (!phone) {
    throw badRequest(`phone: "${input}" is not a valid phone number`, {
      phone: ['is not a valid phone number'],
    });
  }
  return phone;
}

/** The contact fields the lead score reads (profile completeness). */
const PROFILE_FIELDS = new Set<string>(['name', 'email', 'company', 'position']);

const uniqueTags = (tags: string[]) => [...new Set(tags)];

type ContactField = keyof q.ContactPatch;
const sameValue = (a: unknown, b: unknown) => JSON.stringify(a ?? null) === JSON.stringify(b ?? null);

/** The patched fields whose stored value differs after the update (names only). */
function changedFields(
  patch: q.ContactPatch,
  before: Record<ContactField, unknown>,
  after: Record<ContactField, unknown>,
): ContactField[] {
  return (Object.keys(patch) as ContactField[]).filter((k) => !sameValue(before[k], after[k]));
}

export function createContactsService(deps: {
  db: Db;
  defaultRegion: string;
  rescore?: RescoreScheduler;
}): ContactsService {
  const { db, defaultRegion } = deps;

  async function changeTags(
    input: TContactTagsInput,
    change: (tx: DbOrTx, ids: string[], tags: string[]) => Promise<string[]>,
  ): Promise<TContactTagsResult> {
    const ids = [...new Set(input.ids)];
    const existing = await q.existingContactIds(db, ids);
    const updated = new Set(
      await db.transaction(async (tx) => {
        const changed = await change(tx, ids, uniqueTags(input.tags));
        await recordEvents(
          tx,
          changed.map((contactId) => ({ type: 'contact.updated', contactId, fields: ['tags'] })),
        );
        return changed;
      }),
    );
    return {
      updated: ids.filter((id) => updated.has(id)),
      unchanged: ids.filter((id) => existing.has(id) && !updated.has(id)),
      notFound: ids.filter((id) => !existing.has(id) && !updated.has(id)),
    };
  }

  return {
    async list(input) {
      const after = decodeCursor(`contacts:${input.sort}`, input.cursor, q.contactSortKeyType(input.sort));
      const rows = await q.listContacts(db, { ...input, after });
      return toPage(`contacts:${input.sort}`, rows, input.limit, ({ sortKey: _, ...c }) => c);
    },

    async get(id) {
      const row = await q.findContactDetail(db, id);
      if (!row) throw notFound('Contact', id);
      const [deals, openTasks, recent] = await Promise.all([
        dq.listContactDeals(db, id),
        tq.listOpenTasksOfContact(db, id),
        acts.recentActivitiesOfContact(db, id),
      ]);
      const {
        conversationId,
        conversationOwner,
        conversationUnread,
        conversationLastMessageAt,
        qualification,
        ...contact
      } = row;
      return {
        ...contact,
        conversation:
          conversationId && conversationOwner
            ? {
                id: conversationId,
                owner: conversationOwner,
                unreadCount: conversationUnread ?? 0,
                lastMessageAt: conversationLastMessageAt,
              }
            : null,
        deals,
        openTasks,
        recentActivities: recent,
        qualification: qualification ? toLeadQualification(qualification) : null,
      };
    },

    async create(input) {
      const phone = normalisePhone(input.phone, defaultRegion);
      try {
        const created = await db.transaction(async (tx) => {
          const row = await q.insertContact(tx, {
            phone,
            name: input.name ?? null,
            email: input.email ?? null,
            company: input.company ?? null,
            position: input.position ?? null,
            leadStatus: input.leadStatus ?? 'new',
            source: input.source ?? 'manual',
            tags: input.tags ? uniqueTags(input.tags) : [],
            notes: input.notes ?? null,
          });
          if (row) await recordEvents(tx, [{ type: 'contact.created', contactId: row.id }]);
          return row;
        });
        if (created) return created;
      } catch (err) {
        if (!isUniqueViolation(err)) throw err;
      }
      throw conflict(`A contact with phone ${phone} already exists`);
    },

    async update(input, caller) {
      const actor = actorOf(caller);
      // Only the fields named here can change; a field left out (undefined) is kept.
      const patch: q.ContactPatch = {};
      if (input.phone !== undefined) patch.phone = normalisePhone(input.phone, defaultRegion);
      if (input.name !== undefined) patch.name = input.name || null;
      if (input.email !== undefined) patch.email = input.email || null;
      if (input.company !== undefined) patch.company = input.company || null;
      if (input.position !== undefined) patch.position = input.position || null;
      if (input.notes !== undefined) patch.notes = input.notes || null;
      if (input.source !== undefined) patch.source = input.source;
      if (input.tags !== undefined) patch.tags = uniqueTags(input.tags);
      if (input.leadStatus !== undefined) patch.leadStatus = input.leadStatus;
      try {
        return await db.transaction(async (tx) => {
          if (!(await q.lockContactStatus(tx, input.id))) throw notFound('Contact', input.id);
          const before = await q.findContact(tx, input.id);
          if (!before) throw notFound('Contact', input.id);
          const updated = await q.updateContact(tx, input.id, patch);
          if (!updated) throw notFound('Contact', input.id);
          const fields = changedFields(patch, before, updated);
          if (fields.length) {
            await recordEvents(tx, [{ type: 'contact.updated', contactId: input.id, fields }]);
          }
          if (fields.some((f) => PROFILE_FIELDS.has(f))) await deps.rescore?.(tx, [input.id]);
          if (patch.leadStatus && patch.leadStatus !== before.leadStatus) {
            await acts.insertActivity(tx, {
              contactId: input.id,
              type: STATUS_CHANGE_ACTIVITY,
              summary: `Lead status changed from ${before.leadStatus} to ${patch.leadStatus}`,
              metadata: { from: before.leadStatus, to: patch.leadStatus },
              actorType: actor.type,
              actorId: actor.id,
              actorName: actor.name,
            });
          }
          return updated;
        });
      } catch (err) {
        if (isUniqueViolation(err)) throw conflict(`A contact with phone ${patch.phone} already exists`);
        throw err;
      }
    },

    async delete(id) {
      await db.transaction(async (tx) => {
        if (!(await q.softDeleteContact(tx, id, new Date()))) throw notFound('Contact', id);
        await recordEvents(tx, [{ type: 'contact.deleted', contactId: id }]);
      });
    },

    addTags: (input) => changeTags(input, (tx, ids, tags) => q.addTags(tx, ids, tags)),
    removeTags: (input) => changeTags(input, (tx, ids, tags) => q.removeTags(tx, ids, tags)),
  };
}
