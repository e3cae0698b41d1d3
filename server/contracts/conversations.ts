import { z } from 'zod';
import { ZId, ZPageInput, ZTag, ZTextQuery, zPage } from './common';
import { ZContact, ZContactSummary, ZLeadStatus } from './crm';
import { ZKnowledgeSource } from './knowledge';

export const OWNER_VALUES = ['bot', 'human'] as const;
export const ZOwner = z.enum(OWNER_VALUES);
export type TOwner = z.infer<typeof ZOwner>;

/** The gateway a conversation lives on: WaSender, or Meta's WhatsApp Cloud API. */
export const CHANNEL_VALUES = ['wasender', 'whatsapp-cloud'] as const;
export const ZChannel = z.enum(CHANNEL_VALUES);
export type TChannel = z.infer<typeof ZChannel>;

/**
 * The Cloud API's customer-service window: free-form messages only until 24 hours after the customer's
 * last message (then only approved templates). Null on WaSender, which has no such window, and on a
 * Cloud conversation the customer never wrote in (closed).
 */
const windowClosesAt = z.date().nullable();

export const CONVERSATION_STATUS_VALUES = ['open', 'pending', 'resolved', 'snoozed'] as const;
/** open: needs the team; pending: waiting for the customer; resolved: done; snoozed: open again at a time. */
export const ZConversationStatus = z.enum(CONVERSATION_STATUS_VALUES);
export type TConversationStatus = z.infer<typeof ZConversationStatus>;

/** A label on a conversation: lower-case letters, digits, `-`, `_`, `:` and `.`. */
export const ZLabel = z
  .string()
  .trim()
  .toLowerCase()
  .regex(/^[\p{Ll}\p{Lo}\p{N}][\p{Ll}\p{Lo}\p{N}_:.-]{0,39}$/u, {
    error: 'a label is 1-40 letters, digits, -, _, : or . (starting with a letter or digit)',
  });

/** The staff member a conversation is assigned to (null: unassigned). */
export const ZAssignee = z.object({ id: ZId, name: z.string() }).nullable();

export const ZConversation = z.object({
  id: ZId,
  contactId: ZId,
  owner: ZOwner,
  status: ZConversationStatus,
  snoozedUntil: z.date().nullable(),
  assignee: ZAssignee,
  labels: z.array(z.string()),
  /** Since when the customer waits for a person's reply (null: nobody is waited for). */
  waitingSince: z.date().nullable(),
  ownerSince: z.date(),
  ownerReason: z.string().nullable(),
  botResumesAt: z.date().nullable(),
  unreadCount: z.number(),
  lastMessageAt: z.date().nullable(),
  lastMessagePreview: z.string().nullable(),
  createdAt: z.date(),
  channel: ZChannel,
  windowClosesAt,
});
export type TConversation = z.infer<typeof ZConversation>;

export const ZConversationGetInput = z.object({ id: ZId });

export const ZConversationListInput = ZPageInput.extend({
  owner: ZOwner.optional(),
  /** true: only conversations with unread messages; false: only read ones. */
  unread: z.boolean().optional(),
  /** true: only conversations with an open handoff task. */
  hasOpenHandoff: z.boolean().optional(),
  optedOut: z.boolean().optional(),
  /** 'me' (the signed-in person), 'unassigned', or a staff id. */
  assignee: z.union([z.literal('me'), z.literal('unassigned'), ZId]).optional(),
  status: ZConversationStatus.optional(),
  label: ZLabel.optional(),
  tag: ZTag.optional(),
  leadStatus: ZLeadStatus.optional(),
  /** Matches the contact's name, WhatsApp name, email, company or phone. */
  q: ZTextQuery.optional(),
}).default({ limit: 25 });
export type TConversationListInput = z.infer<typeof ZConversationListInput>;

/** A row of the inbox, newest activity first. */
export const ZConversationListItem = z.object({
  id: ZId,
  owner: ZOwner,
  status: ZConversationStatus,
  snoozedUntil: z.date().nullable(),
  assignee: ZAssignee,
  labels: z.array(z.string()),
  waitingSince: z.date().nullable(),
  ownerSince: z.date(),
  botResumesAt: z.date().nullable(),
  unreadCount: z.number(),
  lastMessageAt: z.date().nullable(),
  lastMessagePreview: z.string().nullable(),
  lastInboundAt: z.date().nullable(),
  hasOpenHandoff: z.boolean(),
  contact: ZContactSummary,
  channel: ZChannel,
  windowClosesAt,
});
export type TConversationListItem = z.infer<typeof ZConversationListItem>;
export const ZConversationPage = zPage(ZConversationListItem);

/**
 * Who did something: a signed-in person (`staff`), an API key (`apiKey`), the server itself (`system`),
 * the `bot` or the `customer`. Rows written before people signed in carry `agent` or `admin` (the role
 * of the API key that acted) or `contact`.
 */
export const ACTOR_TYPE_VALUES = [
  'staff',
  'apiKey',
  'system',
  'bot',
  'customer',
  'agent',
  'admin',
  'contact',
] as const;
export const ZActorType = z.enum(ACTOR_TYPE_VALUES);
export type TActorType = z.infer<typeof ZActorType>;

/** An actor as shown with a record: its kind, id (staff id, key id, contact id) and name when known. */
export const ZActor = z.object({ type: ZActorType, id: z.string().nullable(), name: z.string().nullable() });
export type TActor = z.infer<typeof ZActor>;

/** One change of a conversation's owner. */
export const ZOwnerChange = z.object({
  id: ZId,
  conversationId: ZId,
  fromOwner: ZOwner,
  toOwner: ZOwner,
  actorType: ZActorType,
  actorId: z.string().nullable(),
  actorName: z.string().nullable(),
  reason: z.string().nullable(),
  createdAt: z.date(),
});
export type TOwnerChange = z.infer<typeof ZOwnerChange>;

export const ZConversationDetail = z.object({
  conversation: ZConversation.extend({
    lastInboundAt: z.date().nullable(),
    lastAgentAt: z.date().nullable(),
  }),
  contact: ZContact,
  /** The latest 20 owner changes, newest first (bot.history pages through all of them). */
  ownerHistory: z.array(ZOwnerChange),
  openHandoff: z
    .object({ taskId: ZId, title: z.string(), createdAt: z.date(), dueAt: z.date().nullable() })
    .nullable(),
});
export type TConversationDetail = z.infer<typeof ZConversationDetail>;

export const MESSAGE_DIRECTION_VALUES = ['inbound', 'outbound'] as const;
export const ZMessageDirection = z.enum(MESSAGE_DIRECTION_VALUES);
export const MESSAGE_AUTHOR_VALUES = ['contact', 'bot', 'agent', 'campaign', 'system'] as const;
export const ZMessageAuthor = z.enum(MESSAGE_AUTHOR_VALUES);

export const ZAiUsage = z.object({
  model: z.string(),
  promptTokens: z.number(),
  completionTokens: z.number(),
  latencyMs: z.number(),
  /** Knowledge passages the reply was given ("answered from: Delivery policy §2"); absent when none. */
  sources: z.array(ZKnowledgeSource).optional(),
});

export const MEDIA_KIND_VALUES = ['image', 'audio', 'video', 'document', 'sticker'] as const;
export const MEDIA_STATUS_VALUES = ['pending', 'stored', 'refused', 'failed'] as const;

/** The file of a media message (the bytes are fetched through `conversations.mediaUrl`). */
export const ZMessageMedia = z.object({
  id: ZId,
  kind: z.enum(MEDIA_KIND_VALUES),
  /** The type found in the file's content once stored (the sender's claim before). */
  mimeType: z.string().nullable(),
  fileName: z.string().nullable(),
  /** A voice note rather than an audio file. */
  voice: z.boolean(),
  /** Size in bytes, when known. */
  bytes: z.number().nullable(),
  sha256: z.string().nullable(),
  /** pending: downloading; stored: ready; refused: too large or not what it claimed; failed: could not be fetched. */
  status: z.enum(MEDIA_STATUS_VALUES),
  /** Why it was refused or failed. */
  reason: z.string().nullable(),
  /** A voice note's words. */
  transcript: z.string().nullable(),
});
export type TMessageMedia = z.infer<typeof ZMessageMedia>;

/** A location or contact card sent by the customer. */
export const ZMessageCard = z.discriminatedUnion('kind', [
  z.object({
    kind: z.literal('location'),
    latitude: z.number(),
    longitude: z.number(),
    name: z.string().nullable(),
    address: z.string().nullable(),
  }),
  z.object({
    kind: z.literal('contacts'),
    contacts: z.array(
      z.object({ name: z.string().nullable(), vcard: z.string().nullable(), phones: z.array(z.string()) }),
    ),
  }),
]);

export const ZMessage = z.object({
  id: ZId,
  conversationId: ZId,
  direction: ZMessageDirection,
  author: ZMessageAuthor,
  type: z.string(),
  body: z.string().nullable(),
  status: z.string(),
  error: z.string().nullable(),
  replyGroup: ZId.nullable(),
  partIndex: z.number(),
  /** Model, tokens and latency of a bot reply; null for other messages. */
  ai: ZAiUsage.nullable(),
  actorId: z.string().nullable(),
  /** Who wrote it: the customer, the bot, a person (staff), an API key by name, or the system. */
  sentBy: ZActor,
  campaignId: ZId.nullable(),
  sentAt: z.date().nullable(),
  deliveredAt: z.date().nullable(),
  readAt: z.date().nullable(),
  createdAt: z.date(),
  /** The message's file (image, voice note, document...); null for text. */
  media: ZMessageMedia.nullable(),
  /** A location or contact card; null otherwise. */
  card: ZMessageCard.nullable(),
});
export type TMessage = z.infer<typeof ZMessage>;

export const ZMediaUrlInput = z.object({ messageId: ZId });
export const ZMediaUrl = z.object({
  /** A signed link to the file, valid until `expiresAt`: absolute when PUBLIC_BASE_URL is set, else a path on this server. */
  url: z.string(),
  expiresAt: z.date(),
  mimeType: z.string(),
  fileName: z.string().nullable(),
});
export type TMediaUrl = z.infer<typeof ZMediaUrl>;

/** Files agents may send, by kind (stickers are not sent). */
export const SEND_MEDIA_KIND_VALUES = ['image', 'audio', 'video', 'document'] as const;

export const ZSendMediaInput = z.object({
  conversationId: ZId,
  kind: z.enum(SEND_MEDIA_KIND_VALUES),
  /** The file, base64-encoded (a `data:` URL prefix is accepted); at most MEDIA_SEND_MAX_BYTES once decoded. */
  data: z.string().min(4).max(30_000_000),
  fileName: z
    .string()
    .trim()
    .min(1)
    .max(200)
    .refine((v) => ![...v].some((c) => c < ' ' || c === '/' || c === '\\'), {
      error: 'must be a plain file name',
    })
    .nullish(),
  caption: z.string().trim().max(1024).nullish(),
});
export type TSendMediaInput = z.infer<typeof ZSendMediaInput>;

export const ZConversationMessagesInput = ZPageInput.extend({ conversationId: ZId });
export const ZMessagePage = zPage(ZMessage);

export const ZConversationSearchInput = z.object({
  /** At least 2 characters; message text is searched from 3. */
  q: z.string().trim().min(2, { error: 'must be at least 2 characters' }).max(100),
  limit: z.number().int().min(1).max(50).default(20),
  /** Cursor of the message hits (contacts come with the first page only). */
  cursor: z.string().max(200).nullish(),
});
export type TConversationSearchInput = z.infer<typeof ZConversationSearchInput>;

export const ZSearchResult = z.object({
  contacts: z.array(ZContactSummary.extend({ conversationId: ZId.nullable() })),
  messages: zPage(
    z.object({
      messageId: ZId,
      conversationId: ZId,
      direction: ZMessageDirection,
      author: ZMessageAuthor,
      body: z.string(),
      createdAt: z.date(),
      contact: ZContactSummary,
    }),
  ),
});
export type TSearchResult = z.infer<typeof ZSearchResult>;

export const ZMarkReadInput = z.object({ conversationId: ZId });
export const ZMarkReadResult = z.object({ conversationId: ZId, changed: z.boolean() });

export const ZConversationEventsInput = z
  .object({
    /** Only events of this conversation (default: all). */
    conversationId: ZId.optional(),
    /** Resume after this event id (the client sends it back by itself on reconnect). */
    lastEventId: z
      .string()
      .regex(/^\d{1,18}$/)
      .nullish(),
  })
  .default({});
export type TConversationEventsInput = z.infer<typeof ZConversationEventsInput>;
