import { eq } from 'drizzle-orm';
import { contacts, conversations, staff } from '../../drizzle';
import type { Db } from '../../server/db/types';
import type { StaffCaller } from '../../server/services/caller';

let n = 0;

/** A staff member in the database and the caller a sign-in of theirs becomes. */
export async function person(db: Db, role: 'admin' | 'agent', name = `${role} ${++n}`): Promise<StaffCaller> {
  const email = `${name.replace(/\W+/g, '.').toLowerCase()}.${Date.now()}.${++n}@example.test`;
  const [row] = await db.insert(staff).values({ email, displayName: name, role }).returning({ id: staff.id });
  return { kind: 'staff', id: row!.id, name, role, email };
}

/** The conversation of a phone (E.164 without +), as the inbox sees it. */
export async function conversationOf(db: Db, phone: string) {
  const [row] = await db
    .select({ id: conversations.id, c: conversations })
    .from(conversations)
    .innerJoin(contacts, eq(contacts.id, conversations.contactId))
    .where(eq(contacts.phone, `+${phone}`));
  return row ? { ...row.c } : null;
}

export async function until<T>(
  read: () => Promise<T>,
  ok: (v: T) => boolean,
  timeoutMs = 15_000,
): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await read();
    if (ok(v) || Date.now() > end) return v;
    await new Promise((r) => setTimeout(r, 100));
  }
}
