import { eq } from 'drizzle-orm';
import { contacts, conversations } from '../../../drizzle';
import type { DbOrTx } from '../types';

export const conversationColumns = {
  id: conversations.id,
  contactId: conversations.contactId,
  owner: conversations.owner,
  ownerSince: conversations.ownerSince,
  ownerReason: conversations.ownerReason,
  botResumesAt: conversations.botResumesAt,
  unreadCount: conversations.unreadCount,
  lastMessageAt: conversations.lastMessageAt,
  lastMessagePreview: conversations.lastMessagePreview,
  createdAt: conversations.createdAt,
};

export async function findConversation(db: DbOrTx, id: string) {
  const [row] = await db
    .select(conversationColumns)
    .from(conversations)
    .where(eq(conversations.id, id))
    .limit(1);
  return row ?? null;
}

/** A conversation with its contact's phone, looked up by conversation id or by E.164 phone. */
export async function findConversationWithPhone(db: DbOrTx, by: { id: string } | { phone: string }) {
  const [row] = await db
    .select({ ...conversationColumns, phone: contacts.phone })
    .from(conversations)
    .innerJoin(contacts, eq(contacts.id, conversations.contactId))
    .where('id' in by ? eq(conversations.id, by.id) : eq(contacts.phone, by.phone))
    .limit(1);
  return row ?? null;
}
