import type {
  TInviteStaffInput,
  TMe,
  TStaff,
  TStaffList,
  TStaffListInput,
  TUpdateStaffInput,
} from '../contracts';
import * as q from '../db/queries/staff';
import type { Db } from '../db/types';
import { AppError, conflict, isUniqueViolation, notFound } from '../errors';
import type { Caller } from './caller';

/**
 * The team's people. Admins invite, change and deactivate; a person may change their own availability;
 * agents see active colleagues' names (for assignment). The last active admin can neither be demoted
 * nor deactivated: every change that could remove an admin takes one lock and counts the others first.
 */
export interface StaffService {
  me(caller: Caller): Promise<TMe>;
  list(input: TStaffListInput, caller: Caller): Promise<TStaffList>;
  invite(input: TInviteStaffInput): Promise<TStaff>;
  update(input: TUpdateStaffInput, caller: Caller): Promise<TStaff>;
  deactivate(id: string): Promise<TStaff>;
}

export const LAST_ADMIN =
  'This is the last active admin: make another person admin before demoting or deactivating this one';

export function toStaff(row: q.StaffRow): TStaff {
  return {
    id: row.id,
    email: row.email,
    displayName: row.displayName,
    role: row.role,
    active: row.active,
    available: row.available,
    linked: row.sub !== null,
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
    lastSeenAt: row.lastSeenAt,
  };
}

export function createStaffService(deps: {
  db: Db;
  /** Called after every change, so cached callers pick it up at once. */
  onChange: () => void;
}): StaffService {
  const { db, onChange } = deps;

  async function change(
    id: string,
    patch: Partial<Pick<q.StaffRow, 'displayName' | 'role' | 'active' | 'available'>>,
  ): Promise<TStaff> {
    const removesAdmin = patch.role === 'agent' || patch.active === false;
    const row = await db.transaction(async (tx) => {
      if (removesAdmin) await q.lockAdminSet(tx);
      const current = await q.findStaffById(tx, id);
      if (!current) throw notFound('Staff member', id);
      if (removesAdmin && current.role === 'admin' && current.active) {
        if ((await q.countOtherActiveAdmins(tx, id)) === 0) throw conflict(LAST_ADMIN);
      }
      return q.updateStaff(tx, id, patch);
    });
    onChange();
    if (!row) throw notFound('Staff member', id);
    return toStaff(row);
  }

  return {
    async me(caller) {
      if (caller.kind !== 'staff') {
        return { kind: caller.kind, id: caller.id, name: caller.name, role: caller.role };
      }
      const row = await q.findStaffById(db, caller.id);
      if (!row) throw notFound('Staff member', caller.id);
      return { kind: 'staff', staff: toStaff(row) };
    },
    async list(input, caller) {
      if (caller.role === 'admin') {
        const rows = await q.listStaff(db, { includeInactive: input.includeInactive });
        return { items: rows.map(toStaff) };
      }
      const rows = await q.listStaff(db, { includeInactive: false });
      return {
        items: rows.map((r) => ({
          id: r.id,
          displayName: r.displayName,
          role: r.role,
          available: r.available,
        })),
      };
    },
    async invite(input) {
      try {
        return toStaff(await q.insertStaff(db, input));
      } catch (err) {
        if (isUniqueViolation(err)) throw conflict(`A staff member with email ${input.email} exists already`);
        throw err;
      }
    },
    async update(input, caller) {
      const { id, ...patch } = input;
      if (caller.role !== 'admin') {
        const ownAvailability =
          caller.kind === 'staff' &&
          caller.id === id &&
          patch.displayName === undefined &&
          patch.role === undefined &&
          patch.active === undefined;
        if (!ownAvailability) {
          throw new AppError('FORBIDDEN', 'Agents may change only their own availability');
        }
      }
      return change(id, patch);
    },
    deactivate: (id) => change(id, { active: false }),
  };
}
