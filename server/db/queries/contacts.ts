import { and, desc, eq, isNull } from 'drizzle-orm';
import { contacts } from '../../../drizzle';
import type { DbOrTx } from '../types';

export type ContactInsert = typeof contacts.$inferInsert;

export const contactColumns = {
  id: contacts.id,
  phone: contacts.phone,
  name: contacts.name,
  pushName: contacts.pushName,
  email: contacts.email,
  company: contacts.company,
  position: contacts.position,
  leadStatus: contacts.leadStatus,
  leadScore: contacts.leadScore,
  source: contacts.source,
  tags: contacts.tags,
  notes: contacts.notes,
  optedOutAt: contacts.optedOutAt,
  lastInboundAt: contacts.lastInboundAt,
  createdAt: contacts.createdAt,
  updatedAt: contacts.updatedAt,
};

/** Inserts a contact; returns null when the phone already exists. */
export async function insertContact(db: DbOrTx, row: ContactInsert) {
  const [created] = await db
    .insert(contacts)
    .values(row)
    .onConflictDoNothing({ target: contacts.phone })
    .returning(contactColumns);
  return created ?? null;
}

export async function findContact(db: DbOrTx, id: string) {
  const [row] = await db
    .select(contactColumns)
    .from(contacts)
    .where(and(eq(contacts.id, id), isNull(contacts.deletedAt)))
    .limit(1);
  return row ?? null;
}

export async function findContactByPhone(db: DbOrTx, phone: string) {
  const [row] = await db
    .select(contactColumns)
    .from(contacts)
    .where(and(eq(contacts.phone, phone), isNull(contacts.deletedAt)))
    .limit(1);
  return row ?? null;
}

export function listLeads(db: DbOrTx, filter: { status?: ContactInsert['leadStatus']; limit: number }) {
  return db
    .select({
      id: contacts.id,
      phone: contacts.phone,
      name: contacts.name,
      leadStatus: contacts.leadStatus,
      leadScore: contacts.leadScore,
      source: contacts.source,
      tags: contacts.tags,
      lastInboundAt: contacts.lastInboundAt,
    })
    .from(contacts)
    .where(
      and(isNull(contacts.deletedAt), filter.status ? eq(contacts.leadStatus, filter.status) : undefined),
    )
    .orderBy(desc(contacts.leadScore), desc(contacts.createdAt), contacts.id)
    .limit(filter.limit);
}
