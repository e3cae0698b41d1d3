import { z } from 'zod';
import { ZId, ZPageInput, ZTag, zPage } from './common';
import { SEND_MEDIA_KIND_VALUES, ZSendMediaInput } from './conversations';
import { ZLeadStatus } from './crm';
import { ZTemplateUse } from './templates';

export const CAMPAIGN_STATUS_VALUES = [
  'draft',
  'scheduled',
  'running',
  'paused',
  'completed',
  'cancelled',
] as const;
export const ZCampaignStatus = z.enum(CAMPAIGN_STATUS_VALUES);
export type TCampaignStatus = z.infer<typeof ZCampaignStatus>;

/** A recipient's state: pending → sending → sent → delivered → read, or failed / skipped. */
export const RECIPIENT_STATUS_VALUES = [
  'pending',
  'sending',
  'sent',
  'delivered',
  'read',
  'failed',
  'skipped',
] as const;
export const ZRecipientStatus = z.enum(RECIPIENT_STATUS_VALUES);
export type TRecipientStatus = z.infer<typeof ZRecipientStatus>;

/**
 * Why a recipient failed or was skipped: `rejected` (the gateway refused it), `unavailable` (the gateway
 * kept failing), `unknown` (the send was interrupted or timed out: it may have arrived, so it is not
 * retried automatically), `delivery_failed` (WhatsApp reported a failure), `invalid_text` (the rendered
 * message is empty or too long), `opted_out`, `contact_deleted`, `cancelled`.
 */
export const ZRecipientErrorCode = z.enum([
  'rejected',
  'unavailable',
  'unknown',
  'delivery_failed',
  'invalid_text',
  'opted_out',
  'contact_deleted',
  'cancelled',
]);
export type TRecipientErrorCode = z.infer<typeof ZRecipientErrorCode>;

export const ZCampaignSummary = z.object({
  id: ZId,
  name: z.string(),
  status: ZCampaignStatus,
  ratePerMinute: z.number(),
  scheduledAt: z.date().nullable(),
  startedAt: z.date().nullable(),
  completedAt: z.date().nullable(),
  createdAt: z.date(),
  /** Number of recipients (every state). */
  recipients: z.number(),
  pausedReason: z.string().nullable(),
});
export type TCampaignSummary = z.infer<typeof ZCampaignSummary>;

export const ZCampaignListInput = z
  .object({ status: ZCampaignStatus.optional(), limit: z.number().int().min(1).max(100).default(25) })
  .default({ limit: 25 });
export type TCampaignListInput = z.infer<typeof ZCampaignListInput>;

/** Template variable names: letters, digits and underscores (matched ignoring case and underscores). */
const ZVariableName = z
  .string()
  .regex(/^[A-Za-z][A-Za-z0-9_]{0,49}$/, { error: 'must be a variable name such as name or first_name' });

export const CAMPAIGN_MAX_TEMPLATE_CHARS = 4096;

export const ZCampaignAudienceInput = z
  .object({
    contactIds: z.array(ZId).max(50_000).default([]),
    /** Contacts with any of these tags. */
    tags: z.array(ZTag).max(50).default([]),
    /** Contacts in any of these lead statuses. */
    leadStatuses: z.array(ZLeadStatus).max(6).default([]),
    /**
     * Phone numbers, one per line, or CSV text with a header that names a phone column (phone, mobile,
     * whatsapp, number); the other columns become template variables. Numbers are read in the server's
     * default region unless written with + or 00.
     */
    numbers: z.string().max(2_000_000).optional(),
  })
  .refine(
    (a) =>
      a.contactIds.length > 0 || a.tags.length > 0 || a.leadStatuses.length > 0 || Boolean(a.numbers?.trim()),
    { error: 'name at least one of contactIds, tags, leadStatuses or numbers' },
  );

/**
 * A file every recipient's message carries, with the rendered text as its caption. Checked like
 * `conversations.sendMedia`: base64 (a `data:` URL prefix is accepted), at most MEDIA_SEND_MAX_BYTES once
 * decoded, and its content a supported file of `kind`.
 */
export const ZCampaignAttachmentInput = ZSendMediaInput.pick({ kind: true, data: true, fileName: true });
export type TCampaignAttachmentInput = z.infer<typeof ZCampaignAttachmentInput>;

export const ZCampaignAttachment = z.object({
  kind: z.enum(SEND_MEDIA_KIND_VALUES),
  /** Decided from the file's content. */
  mimeType: z.string(),
  fileName: z.string().nullable(),
  bytes: z.number(),
});

export const ZCampaignCreateInput = z.object({
  name: z.string().trim().min(1).max(200),
  /** The message, with variables such as {{name}}, {{company}} or {{name|there}} (a default after |). */
  template: z.string().trim().min(1).max(CAMPAIGN_MAX_TEMPLATE_CHARS),
  /** Values used when a recipient has none for a variable. */
  variableDefaults: z.record(ZVariableName, z.string().max(500)).default({}),
  /**
   * WhatsApp Cloud API: the approved template sent to recipients outside the 24-hour customer service
   * window (the text above goes to those inside it). Without it, a Cloud campaign with recipients
   * outside the window is refused at start.
   */
  cloudTemplate: ZTemplateUse.optional(),
  /**
   * A file sent to every recipient with the text as its caption (WaSender needs PUBLIC_BASE_URL). On the
   * Cloud API, recipients outside the 24-hour window get `cloudTemplate` without the file.
   */
  attachment: ZCampaignAttachmentInput.optional(),
  /** The union of every source given; each contact is messaged once. */
  audience: ZCampaignAudienceInput,
  /** Average pace in messages per minute (default from the server's settings). */
  ratePerMinute: z.number().int().min(1).max(6000).optional(),
  /** Random spread of the gaps between sends, in percent of the average gap. */
  jitterPercent: z.number().int().min(0).max(100).optional(),
  /** Pause by itself when `failurePercent` of the last `window` sends failed. */
  autoPause: z
    .object({ window: z.number().int().min(2).max(1000), failurePercent: z.number().int().min(1).max(100) })
    .optional(),
});
export type TCampaignCreateInput = z.infer<typeof ZCampaignCreateInput>;

export const ZCampaignIdInput = z.object({ id: ZId });
export type TCampaignIdInput = z.infer<typeof ZCampaignIdInput>;

export const ZCampaignScheduleInput = z.object({ id: ZId, at: z.date() });
export type TCampaignScheduleInput = z.infer<typeof ZCampaignScheduleInput>;

export const ZCampaignPauseInput = z.object({
  id: ZId,
  reason: z.string().trim().min(1).max(300).optional(),
});
export type TCampaignPauseInput = z.infer<typeof ZCampaignPauseInput>;

export const ZCampaignRetryInput = z.object({
  id: ZId,
  /**
   * Also resend recipients whose earlier send was interrupted or timed out (error code `unknown`): their
   * message may already have arrived, so they are left out unless asked for.
   */
  includeUnknown: z.boolean().default(false),
});
export type TCampaignRetryInput = z.infer<typeof ZCampaignRetryInput>;

export const ZCampaignFigures = z.object({
  total: z.number(),
  pending: z.number(),
  sending: z.number(),
  sent: z.number(),
  delivered: z.number(),
  read: z.number(),
  failed: z.number(),
  skipped: z.number(),
  /** Recipients who wrote back after their campaign message. */
  replied: z.number(),
});
export type TCampaignFigures = z.infer<typeof ZCampaignFigures>;

/** Shares between 0 and 1 (null before anything was sent). */
export const ZCampaignRates = z.object({
  /** Delivered or read, of the messages that went out. */
  delivery: z.number().nullable(),
  read: z.number().nullable(),
  reply: z.number().nullable(),
  /** Failed, of every send that ended (sent, delivered, read or failed). */
  failure: z.number().nullable(),
  /** Messages that went out in the last minute. */
  sentLastMinute: z.number(),
});
export type TCampaignRates = z.infer<typeof ZCampaignRates>;

export const ZCampaignProgress = z.object({
  campaignId: ZId,
  status: ZCampaignStatus,
  pausedReason: z.string().nullable(),
  figures: ZCampaignFigures,
  rates: ZCampaignRates,
  /** When the pending recipients should be done at the campaign's pace (null unless running). */
  estimatedFinishAt: z.date().nullable(),
  at: z.date(),
});
export type TCampaignProgress = z.infer<typeof ZCampaignProgress>;

export const ZCampaignDetail = ZCampaignSummary.extend({
  template: z.string(),
  cloudTemplate: z
    .object({ name: z.string(), language: z.string(), variables: z.array(z.string()) })
    .nullable(),
  variableDefaults: z.record(z.string(), z.string()),
  /** The file every message carries (null: text only). */
  attachment: ZCampaignAttachment.nullable(),
  audience: z.object({
    contactIds: z.number(),
    tags: z.array(z.string()),
    leadStatuses: z.array(z.string()),
    numbers: z.object({ lines: z.number(), columns: z.array(z.string()) }).nullable(),
  }),
  jitterPercent: z.number(),
  autoPause: z.object({ window: z.number(), failurePercent: z.number() }),
  /** When it was last paused (kept after a resume). */
  pausedAt: z.date().nullable(),
  cancelledAt: z.date().nullable(),
  createdBy: z.string().nullable(),
  updatedAt: z.date(),
  figures: ZCampaignFigures,
  rates: ZCampaignRates,
  estimatedFinishAt: z.date().nullable(),
  /** Entries of the audience that did not become recipients. */
  invalid: z.number(),
  duplicate: z.number(),
});
export type TCampaignDetail = z.infer<typeof ZCampaignDetail>;

export const ZCampaignPreviewInput = z.object({
  id: ZId,
  /** How many recipients to render a sample for. */
  sample: z.number().int().min(1).max(100).default(10),
});
export type TCampaignPreviewInput = z.infer<typeof ZCampaignPreviewInput>;

export const ZAudienceProblem = z.object({
  /** Line of the pasted list or CSV (1-based), or null for a contact id. */
  line: z.number().nullable(),
  value: z.string(),
  reason: z.string(),
});

export const ZCampaignPreview = z.object({
  campaignId: ZId,
  totals: z.object({
    /** Recipients that would be messaged now. */
    valid: z.number(),
    invalid: z.number(),
    duplicate: z.number(),
    /** Recipients who opted out (or whose contact was deleted): skipped at send time. */
    optedOut: z.number(),
    /** Every recipient row: valid + opted out. */
    recipients: z.number(),
  }),
  /** Capped at 1000 entries each; the totals count all. */
  invalid: z.array(ZAudienceProblem),
  duplicates: z.array(ZAudienceProblem),
  optedOut: z.array(z.object({ contactId: ZId, phone: z.string(), name: z.string().nullable() })),
  /** Variables the template uses (normalised names). */
  variables: z.array(z.string()),
  /** Per variable, how many valid recipients have no value of their own (the default is used). */
  missing: z.array(z.object({ variable: z.string(), recipients: z.number(), default: z.string() })),
  samples: z.array(
    z.object({
      contactId: ZId,
      phone: z.string(),
      name: z.string().nullable(),
      text: z.string(),
      /** Variables filled from a default for this recipient. */
      defaulted: z.array(z.string()),
    }),
  ),
});
export type TCampaignPreview = z.infer<typeof ZCampaignPreview>;

export const ZCampaignRetryResult = z.object({ requeued: z.number(), campaign: ZCampaignDetail });
export type TCampaignRetryResult = z.infer<typeof ZCampaignRetryResult>;

export const ZCampaignRecipientsInput = ZPageInput.extend({
  id: ZId,
  status: ZRecipientStatus.optional(),
  errorCode: ZRecipientErrorCode.optional(),
});
export type TCampaignRecipientsInput = z.infer<typeof ZCampaignRecipientsInput>;

export const ZCampaignRecipient = z.object({
  id: ZId,
  contactId: ZId,
  phone: z.string(),
  name: z.string().nullable(),
  position: z.number(),
  status: ZRecipientStatus,
  attempts: z.number(),
  error: z.string().nullable(),
  errorCode: ZRecipientErrorCode.nullable(),
  /** The message as sent (null before the send). */
  text: z.string().nullable(),
  messageId: ZId.nullable(),
  sentAt: z.date().nullable(),
  finishedAt: z.date().nullable(),
  repliedAt: z.date().nullable(),
});
export type TCampaignRecipient = z.infer<typeof ZCampaignRecipient>;
export const ZCampaignRecipientPage = zPage(ZCampaignRecipient);
export type TCampaignRecipientPage = z.infer<typeof ZCampaignRecipientPage>;

// --- suggested copy ---

export const CAMPAIGN_BRIEF_MAX_CHARS = 1000;
export const CAMPAIGN_TONES = ['friendly', 'professional', 'enthusiastic', 'calm'] as const;

/** What the campaign is about; the model proposes a message for it. */
export const ZCampaignSuggestCopyInput = z
  .object({
    /** A short brief: the offer, the audience, what the customer should do. */
    brief: z
      .string()
      .trim()
      .min(1, { error: 'brief is required' })
      .max(CAMPAIGN_BRIEF_MAX_CHARS, { error: `brief: at most ${CAMPAIGN_BRIEF_MAX_CHARS} characters` }),
    tone: z.enum(CAMPAIGN_TONES).optional(),
    /** The language to write in, as a name or a tag ("Portuguese", "pt-BR"); default: the brief's. */
    language: z
      .string()
      .trim()
      .regex(/^[\p{L}][\p{L} ()-]{0,39}$/u, { error: 'language: a language name or tag such as pt-BR' })
      .optional(),
  })
  .strict();
export type TCampaignSuggestCopyInput = z.infer<typeof ZCampaignSuggestCopyInput>;

/** A proposed campaign text whose `{{variables}}` are all valid contact variables. */
export const ZCampaignCopySuggestion = z.object({
  template: z.string(),
  /** The variables the text uses, as written. */
  variables: z.array(z.string()),
  model: z.string(),
});
export type TCampaignCopySuggestion = z.infer<typeof ZCampaignCopySuggestion>;
