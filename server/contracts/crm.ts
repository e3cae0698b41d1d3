import { z } from 'zod';
import { ZActivity } from './activities';
import { ZId, ZPageInput, ZTag, ZTextQuery, zPage } from './common';
import { ZDeal } from './deals';
import { ZLeadQualification } from './qualification';
import { ZTask } from './tasks';

export const LEAD_STATUS_VALUES = ['new', 'contacted', 'qualified', 'proposal', 'customer', 'lost'] as const;
export const ZLeadStatus = z.enum(LEAD_STATUS_VALUES);
export type TLeadStatus = z.infer<typeof ZLeadStatus>;

const optionalText = (max: number) => z.string().trim().max(max).nullish();

export const ZContactCreateInput = z.object({
  phone: z.string().trim().min(5, { error: 'phone is required' }).max(32),
  name: optionalText(200),
  email: z.email({ error: 'must be an email address' }).max(320).nullish(),
  company: optionalText(200),
  position: optionalText(200),
  leadStatus: ZLeadStatus.optional(),
  source: z.string().trim().min(1).max(50).optional(),
  tags: z.array(z.string().trim().min(1).max(50)).max(50).optional(),
  notes: optionalText(10_000),
});
export type TContactCreateInput = z.infer<typeof ZContactCreateInput>;

export const ZContact = z.object({
  id: ZId,
  phone: z.string(),
  name: z.string().nullable(),
  pushName: z.string().nullable(),
  /** Profile picture URL from the gateway's contact list, when a sync brought one. */
  pictureUrl: z.string().nullable(),
  email: z.string().nullable(),
  company: z.string().nullable(),
  position: z.string().nullable(),
  leadStatus: ZLeadStatus,
  leadScore: z.number(),
  source: z.string(),
  tags: z.array(z.string()),
  notes: z.string().nullable(),
  optedOutAt: z.date().nullable(),
  lastInboundAt: z.date().nullable(),
  createdAt: z.date(),
  updatedAt: z.date(),
});
export type TContact = z.infer<typeof ZContact>;

export const ZContactGetInput = z.object({ id: ZId });

export const ZContactSort = z.enum(['recent', 'score', 'name']);
export type TContactSort = z.infer<typeof ZContactSort>;

/** Filters shared by the contact list and the lead list. */
export const ZContactFilter = z.object({
  tag: ZTag.optional(),
  leadStatus: ZLeadStatus.optional(),
  minScore: z.number().int().min(0).max(1000).optional(),
  maxScore: z.number().int().min(0).max(1000).optional(),
  source: z.string().trim().min(1).max(50).optional(),
  optedOut: z.boolean().optional(),
  /** Matches name, WhatsApp name, email, company or phone (digits in any format). */
  q: ZTextQuery.optional(),
});
export type TContactFilter = z.infer<typeof ZContactFilter>;

export const ZContactListInput = ZPageInput.extend(ZContactFilter.shape)
  .extend({ sort: ZContactSort.default('recent') })
  .default({ limit: 25, sort: 'recent' });
export type TContactListInput = z.infer<typeof ZContactListInput>;
export const ZContactPage = zPage(ZContact);

/**
 * Only these fields can be changed; a field left out stays as it is, and a nullable field set to
 * null is cleared. Unknown fields are refused.
 */
export const ZContactUpdateInput = z
  .object({
    id: ZId,
    phone: z.string().trim().min(5, { error: 'phone is required' }).max(32).optional(),
    name: optionalText(200),
    email: z.email({ error: 'must be an email address' }).max(320).nullish(),
    company: optionalText(200),
    position: optionalText(200),
    leadStatus: ZLeadStatus.optional(),
    source: z.string().trim().min(1).max(50).optional(),
    tags: z.array(ZTag).max(50).optional(),
    notes: optionalText(10_000),
  })
  .strict();
export type TContactUpdateInput = z.infer<typeof ZContactUpdateInput>;

export const ZContactDeleteInput = z.object({ id: ZId });

export const ZContactTagsInput = z.object({
  ids: z.array(ZId).min(1).max(1000),
  tags: z.array(ZTag).min(1).max(50),
});
export type TContactTagsInput = z.infer<typeof ZContactTagsInput>;
export const ZContactTagsResult = z.object({
  /** Contacts whose tags changed. */
  updated: z.array(ZId),
  /** Contacts that already had (or already lacked) every given tag. */
  unchanged: z.array(ZId),
  notFound: z.array(ZId),
});
export type TContactTagsResult = z.infer<typeof ZContactTagsResult>;

export const ZScoreBreakdownItem = z.object({ rule: z.string(), points: z.number(), detail: z.string() });
export type TScoreBreakdownItem = z.infer<typeof ZScoreBreakdownItem>;

// --- import ---

export const ZContactImportInput = z.object({
  /**
   * CSV (comma, semicolon or tab separated) with a header row naming the columns: phone (required),
   * name, email, company, position, tags (separated by ; or |), lead_status, source, notes. Pasted text
   * without a header is read as one contact per line: phone, then optionally name and email.
   */
  text: z.string().min(1, { error: 'text is required' }).max(2_000_000),
  /** Source stored on created contacts when a row does not name one. */
  source: z.string().trim().min(1).max(50).default('import'),
  /** Tags added to every created contact. */
  tags: z.array(ZTag).max(20).default([]),
});
export type TContactImportInput = z.infer<typeof ZContactImportInput>;

export const ZImportRowStatus = z.enum(['valid', 'invalid', 'duplicate', 'existing']);
export const ZImportRow = z.object({
  /** Line of the text the row starts on (1-based, the header counts). */
  line: z.number(),
  status: ZImportRowStatus,
  phone: z.string().nullable(),
  name: z.string().nullable(),
  /** Why the row is invalid, or which line it duplicates, or which contact already has the phone. */
  reason: z.string().nullable(),
  existingContactId: ZId.nullable(),
});
export type TImportRow = z.infer<typeof ZImportRow>;

export const ZImportPreview = z.object({
  totals: z.object({
    rows: z.number(),
    valid: z.number(),
    invalid: z.number(),
    duplicate: z.number(),
    existing: z.number(),
  }),
  /** The first 1,000 rows; totals count them all. */
  rows: z.array(ZImportRow),
  columns: z.array(z.string()),
});
export type TImportPreview = z.infer<typeof ZImportPreview>;

export const ZImportResult = z.object({
  created: z.number(),
  /** Valid rows whose phone was taken by the time of the commit (another import, the webhook). */
  skippedExisting: z.number(),
  existing: z.number(),
  duplicate: z.number(),
  invalid: z.number(),
});
export type TImportResult = z.infer<typeof ZImportResult>;

/** The few contact fields a list row shows. */
export const ZContactSummary = z.object({
  id: ZId,
  phone: z.string(),
  name: z.string().nullable(),
  pushName: z.string().nullable(),
  leadStatus: ZLeadStatus,
  leadScore: z.number(),
  tags: z.array(z.string()),
  optedOutAt: z.date().nullable(),
});
export type TContactSummary = z.infer<typeof ZContactSummary>;

/** A contact with what the CRM knows around it. */
export const ZContactDetail = ZContact.extend({
  scoreBreakdown: z.array(ZScoreBreakdownItem),
  scoredAt: z.date().nullable(),
  conversation: z
    .object({
      id: ZId,
      owner: z.enum(['bot', 'human']),
      unreadCount: z.number(),
      lastMessageAt: z.date().nullable(),
    })
    .nullable(),
  deals: z.array(ZDeal),
  openTasks: z.array(ZTask),
  /** The latest 20 activities, newest first. */
  recentActivities: z.array(ZActivity),
  /** The model's latest assessment of the lead, or null when none was made. */
  qualification: ZLeadQualification.nullable(),
});
export type TContactDetail = z.infer<typeof ZContactDetail>;
