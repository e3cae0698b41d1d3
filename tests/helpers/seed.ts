import type { TRPCError } from '@trpc/server';
import { eq } from 'drizzle-orm';
import {
  type AiUsage,
  type Author,
  contacts,
  conversations,
  type LeadStatus,
  type MessageStatus,
  messages,
  type Owner,
  tasks,
} from '../../drizzle';
import { recordEvents } from '../../server/db/queries/events';
import type { Db } from '../../server/db/types';

/** Test data written straight to the tables, as the webhook pipeline would leave it. */

let phoneSeq = 0;
/** A fresh valid US number for each call (+1 415 555 01xx style, unique per test file). */
export function nextPhone(): string {
  phoneSeq += 1;
  return `+1415${String(5550000 + ((phoneSeq * 7919 + process.pid) % 9_999)).padStart(7, '0')}`;
}

export interface SeedMessage {
  direction: 'inbound' | 'outbound';
  author?: Author;
  body: string;
  at?: Date;
  status?: MessageStatus;
  ai?: AiUsage;
}

export interface SeedConversation {
  phone?: string;
  name?: string | null;
  pushName?: string | null;
  email?: string | null;
  company?: string | null;
  owner?: Owner;
  unread?: number;
  tags?: string[];
  leadStatus?: LeadStatus;
  leadScore?: number;
  source?: string;
  optedOut?: boolean;
  createdAt?: Date;
  messages?: SeedMessage[];
  handoff?: boolean;
}

export async function seedConversation(db: Db, s: SeedConversation = {}) {
  const phone = s.phone ?? nextPhone();
  const msgs = s.messages ?? [];
  const lastInbound = msgs.filter((m) => m.direction === 'inbound').at(-1);
  const last = msgs.at(-1);
  const [contact] = await db
    .insert(contacts)
    .values({
      phone,
      name: s.name === undefined ? `Customer ${phone.slice(-4)}` : s.name,
      pushName: s.pushName ?? null,
      email: s.email ?? null,
      company: s.company ?? null,
      tags: s.tags ?? [],
      leadStatus: s.leadStatus ?? 'new',
      leadScore: s.leadScore ?? 0,
      source: s.source ?? 'whatsapp',
      optedOutAt: s.optedOut ? new Date() : null,
      lastInboundAt: lastInbound?.at ?? (lastInbound ? new Date() : null),
      ...(s.createdAt ? { createdAt: s.createdAt } : {}),
    })
    .returning();
  const [conversation] = await db
    .insert(conversations)
    .values({
      contactId: contact!.id,
      owner: s.owner ?? 'bot',
      unreadCount: s.unread ?? 0,
      lastMessageAt: last ? (last.at ?? new Date()) : null,
      lastMessagePreview: last?.body.slice(0, 120) ?? null,
      lastInboundAt: lastInbound ? (lastInbound.at ?? new Date()) : null,
      ...(s.createdAt ? { createdAt: s.createdAt } : {}),
    })
    .returning();
  const messageIds: string[] = [];
  for (const m of msgs) {
    const [row] = await db
      .insert(messages)
      .values({
        conversationId: conversation!.id,
        direction: m.direction,
        author: m.author ?? (m.direction === 'inbound' ? 'contact' : 'bot'),
        body: m.body,
        status: m.status ?? (m.direction === 'inbound' ? 'received' : 'sent'),
        ai: m.ai ?? null,
        ...(m.at ? { createdAt: m.at } : {}),
      })
      .returning({ id: messages.id });
    messageIds.push(row!.id);
  }
  if (s.handoff) {
    await db.insert(tasks).values({
      contactId: contact!.id,
      conversationId: conversation!.id,
      title: 'Reply to the customer',
      type: 'handoff',
      priority: 'high',
    });
  }
  return { contact: contact!, conversation: conversation!, messageIds };
}

/** Appends a message to a conversation and announces it, as the pipeline does. */
export async function addMessage(db: Db, conversationId: string, body: string, at = new Date()) {
  return db.transaction(async (tx) => {
    const [row] = await tx
      .insert(messages)
      .values({
        conversationId,
        direction: 'inbound',
        author: 'contact',
        body,
        status: 'received',
        createdAt: at,
      })
      .returning({ id: messages.id });
    await tx
      .update(conversations)
      .set({ lastMessageAt: at, lastMessagePreview: body, lastInboundAt: at })
      .where(eq(conversations.id, conversationId));
    await recordEvents(tx, [
      {
        type: 'message.created',
        conversationId,
        messageId: row!.id,
        direction: 'inbound',
        author: 'contact',
      },
    ]);
    return row!.id;
  });
}

/** The tRPC error code of a failed call ('OK' when it succeeded). */
export async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'OK';
  } catch (err) {
    return (err as TRPCError).code ?? String(err);
  }
}

export const MISSING_ID = '00000000-0000-4000-8000-00000000dead';

/** Minutes relative to now. */
export const minutesAgo = (m: number) => new Date(Date.now() - m * 60_000);
