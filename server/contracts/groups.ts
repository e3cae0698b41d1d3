import { z } from 'zod';
import { ZCampaignAttachment, ZCampaignAttachmentInput } from './campaigns';
import { ZId } from './common';

/** A WhatsApp group's JID, as the gateway lists it: digits (and a dash) then `@g.us`. */
export const ZGroupJid = z
  .string()
  .trim()
  .regex(/^\d{5,40}(-\d{5,20})?@g\.us$/, { error: 'must be a group JID such as 120363012345678901@g.us' });

/** A participant's JID: `<digits>@s.whatsapp.net` or `<digits>@lid`. */
export const ZParticipantJid = z
  .string()
  .trim()
  .regex(/^\d{5,30}(:\d{1,3})?@(s\.whatsapp\.net|lid)$/, {
    error: 'must be a participant JID such as 14155550123@s.whatsapp.net',
  });

export const ZGroupParticipant = z.object({
  jid: z.string(),
  phone: z.string().nullable(),
  admin: z.boolean(),
});

export const ZGroupSummary = z.object({
  id: ZId,
  jid: z.string(),
  name: z.string().nullable(),
  participantCount: z.number().int(),
  syncedAt: z.date(),
});
export type TGroupSummary = z.infer<typeof ZGroupSummary>;

export const ZGroup = ZGroupSummary.extend({ participants: z.array(ZGroupParticipant) });
export type TGroup = z.infer<typeof ZGroup>;

export const ZGroupListInput = z.object({
  /** Case-insensitive part of the group's name. */
  q: z.string().trim().min(1).max(100).optional(),
  limit: z.number().int().min(1).max(500).default(100),
});
export type TGroupListInput = z.infer<typeof ZGroupListInput>;

export const ZGroupGetInput = z.object({ jid: ZGroupJid });

/**
 * What to send to a group: text, participants to mention (the text names them as `@<number>`), and
 * optionally one file (image, document, audio or video) with the text as its caption. Checked like a
 * campaign's file: base64, at most MEDIA_SEND_MAX_BYTES once decoded, its content a supported file of
 * `kind` (WaSender needs PUBLIC_BASE_URL to fetch it). The text may be empty only when a file is sent.
 */
const groupMessageFields = {
  text: z.string().trim().max(4096),
  mentions: z.array(ZParticipantJid).max(256).default([]),
  attachment: ZCampaignAttachmentInput.optional(),
};

/** Text is required unless the message carries a file. */
const textOrFile = (v: { text: string; attachment?: unknown }, ctx: z.RefinementCtx) => {
  if (v.text === '' && !v.attachment)
    ctx.addIssue({ code: 'custom', path: ['text'], message: 'text is required' });
};

export const ZGroupSendInput = z.object({ jid: ZGroupJid, ...groupMessageFields }).superRefine(textOrFile);
export type TGroupSendInput = z.infer<typeof ZGroupSendInput>;

export const ZGroupScheduleInput = z
  .object({
    jid: ZGroupJid,
    ...groupMessageFields,
    /** When it goes out: in the future, at most a year ahead. */
    sendAt: z.date(),
  })
  .superRefine(textOrFile);
export type TGroupScheduleInput = z.infer<typeof ZGroupScheduleInput>;

export const ZGroupCampaignInput = z
  .object({
    name: z.string().trim().min(1).max(200),
    jids: z.array(ZGroupJid).min(1).max(500),
    text: groupMessageFields.text,
    attachment: groupMessageFields.attachment,
    /** Seconds between two of this campaign's sends, on top of the shared gateway throttle (default 10). */
    gapSeconds: z.number().min(0).max(3600).default(10),
    /** When the first send may go out (default now). */
    startAt: z.date().optional(),
  })
  .superRefine(textOrFile);
export type TGroupCampaignInput = z.infer<typeof ZGroupCampaignInput>;

export const GROUP_SEND_STATUS_VALUES = [
  'scheduled',
  'queued',
  'sending',
  'sent',
  'failed',
  'cancelled',
] as const;
export const ZGroupSendStatus = z.enum(GROUP_SEND_STATUS_VALUES);

export const ZGroupSend = z.object({
  id: ZId,
  jid: z.string(),
  text: z.string(),
  mentions: z.array(z.string()),
  /** The file sent with the text as its caption (its type decided from its content), or null. */
  attachment: ZCampaignAttachment.nullable(),
  status: ZGroupSendStatus,
  sendAt: z.date(),
  campaignId: z.string().nullable(),
  campaignName: z.string().nullable(),
  attempts: z.number().int(),
  providerMessageId: z.string().nullable(),
  error: z.string().nullable(),
  createdBy: z.string().nullable(),
  sentAt: z.date().nullable(),
  createdAt: z.date(),
});
export type TGroupSend = z.infer<typeof ZGroupSend>;

export const ZGroupCampaign = z.object({
  campaignId: ZId,
  name: z.string(),
  sends: z.array(ZGroupSend),
});
export type TGroupCampaign = z.infer<typeof ZGroupCampaign>;

export const ZGroupSendsInput = z.object({
  jid: ZGroupJid.optional(),
  campaignId: ZId.optional(),
  status: ZGroupSendStatus.optional(),
  limit: z.number().int().min(1).max(500).default(100),
});
export type TGroupSendsInput = z.infer<typeof ZGroupSendsInput>;

export const ZGroupSendIdInput = z.object({ id: ZId });

export const ZGroupMessage = z.object({
  id: ZId,
  jid: z.string(),
  providerMessageId: z.string(),
  senderPhone: z.string().nullable(),
  senderLid: z.string().nullable(),
  senderName: z.string().nullable(),
  type: z.string(),
  body: z.string().nullable(),
  sentAt: z.date(),
});
export type TGroupMessage = z.infer<typeof ZGroupMessage>;

export const ZGroupMessagesInput = z.object({
  jid: ZGroupJid,
  limit: z.number().int().min(1).max(200).default(50),
  /** Messages sent before this time (the previous page's oldest `sentAt`). */
  before: z.date().optional(),
});
export type TGroupMessagesInput = z.infer<typeof ZGroupMessagesInput>;

export const ZGatewaySyncStatus = z.enum(['queued', 'running', 'completed', 'failed']);

/** A background import from the gateway (its groups, or its contacts) with its progress. */
export const ZGatewaySync = z.object({
  id: ZId,
  kind: z.enum(['groups', 'contacts']),
  status: ZGatewaySyncStatus,
  /** Items the gateway listed; null until it answered. */
  total: z.number().int().nullable(),
  processed: z.number().int(),
  /** Rows created (groups, contacts with source 'gateway'). */
  created: z.number().int(),
  /** Existing rows changed (groups refreshed; contacts whose empty name or picture was filled). */
  updated: z.number().int(),
  error: z.string().nullable(),
  startedBy: z.string().nullable(),
  startedAt: z.date().nullable(),
  finishedAt: z.date().nullable(),
  createdAt: z.date(),
});
export type TGatewaySync = z.infer<typeof ZGatewaySync>;

export const ZGatewaySyncStatusResult = ZGatewaySync.nullable();
export const ZGroupSummaryList = z.array(ZGroupSummary);
export const ZGroupSendList = z.array(ZGroupSend);
export const ZGroupMessageList = z.array(ZGroupMessage);

export const ZGroupCampaignCancelInput = z.object({ campaignId: ZId });
export const ZGroupCampaignCancelResult = z.object({ cancelled: z.number().int() });
