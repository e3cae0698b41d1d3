import { and, asc, eq, gt, isNull, lt, sql } from 'drizzle-orm';
import type { Role } from '../../../drizzle';
import { staff, streamTickets } from '../../../drizzle';
import type { DbOrTx, Tx } from '../types';

export type StaffRow = typeof staff.$inferSelect;

export async function findStaffById(db: DbOrTx, id: string): Promise<StaffRow | null> {
  const [row] = await db.select().from(staff).where(eq(staff.id, id)).limit(1);
  return row ?? null;
}

export async function findStaffBySub(db: DbOrTx, sub: string): Promise<StaffRow | null> {
  const [row] = await db.select().from(staff).where(eq(staff.sub, sub)).limit(1);
  return row ?? null;
}

/** An invited person not linked to a sign-in yet. */
export async function findUnlinkedStaffByEmail(db: DbOrTx, email: string): Promise<StaffRow | null> {
  const [row] = await db
    .select()
    .from(staff)
    .where(and(eq(staff.email, email), isNull(staff.sub)))
    .limit(1);
  return row ?? null;
}

/** Links an invited person to their sign-in; null when someone linked the row meanwhile. */
export async function linkStaff(db: DbOrTx, id: string, sub: string, at: Date): Promise<StaffRow | null> {
  const [row] = await db
    .update(staff)
    .set({ sub, lastSeenAt: at })
    .where(and(eq(staff.id, id), isNull(staff.sub)))
    .returning();
  return row ?? null;
}

export async function insertStaff(
  db: DbOrTx,
  row: { email: string; displayName: string; role: Role },
): Promise<StaffRow> {
  const [created] = await db.insert(staff).values(row).returning();
  return created!;
}

export function listStaff(db: DbOrTx, opts: { includeInactive: boolean }): Promise<StaffRow[]> {
  return db
    .select()
    .from(staff)
    .where(opts.includeInactive ? undefined : eq(staff.active, true))
    .orderBy(asc(staff.displayName), asc(staff.id));
}

export async function updateStaff(
  db: DbOrTx,
  id: string,
  patch: Partial<Pick<StaffRow, 'displayName' | 'role' | 'active' | 'available'>>,
): Promise<StaffRow | null> {
  const [row] = await db.update(staff).set(patch).where(eq(staff.id, id)).returning();
  return row ?? null;
}

export async function touchStaff(db: DbOrTx, id: string, at: Date): Promise<void> {
  await db.update(staff).set({ lastSeenAt: at }).where(eq(staff.id, id));
}

export async function countStaff(db: DbOrTx, opts: { role?: Role } = {}): Promise<number> {
  const [row] = await db
    .select({ n: sql<number>`count(*)::int` })
    .from(staff)
    .where(opts.role ? eq(staff.role, opts.role) : undefined);
  return row?.n ?? 0;
}

/**
 * Serialises changes to who is an active admin: every transaction that may remove one takes this lock
 * first, then counts. Held until the transaction ends.
 */
export async function lockAdminSet(tx: Tx): Promise<void> {
  await tx.execute(sql`select pg_advisory_xact_lock(hashtext('wcb.staff.admins'))`);
}

/** Active admins other than `exceptId`, read inside the lock above. */
export async function countOtherActiveAdmins(tx: Tx, exceptId: string): Promise<number> {
  const [row] = await tx
    .select({ n: sql<number>`count(*)::int` })
    .from(staff)
    .where(and(eq(staff.role, 'admin'), eq(staff.active, true), sql`${staff.id} <> ${exceptId}`));
  return row?.n ?? 0;
}

export async function insertStreamTicket(
  db: DbOrTx,
  row: { hash: string; callerKind: 'staff' | 'apiKey'; callerId: string; expiresAt: Date },
): Promise<void> {
  await db.insert(streamTickets).values(row);
}

/** Removes and returns an unexpired ticket: whoever removes it first is its one use. */
export async function takeStreamTicket(db: DbOrTx, hash: string, now: Date) {
  const [row] = await db
    .delete(streamTickets)
    .where(and(eq(streamTickets.hash, hash), gt(streamTickets.expiresAt, now)))
    .returning({ callerKind: streamTickets.callerKind, callerId: streamTickets.callerId });
  return row ?? null;
}

export async function deleteExpiredStreamTickets(db: DbOrTx, now: Date): Promise<void> {
  await db.delete(streamTickets).where(lt(streamTickets.expiresAt, now));
}
