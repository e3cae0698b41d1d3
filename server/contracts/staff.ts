import { z } from 'zod';
import { ZId, ZRole } from './common';

/** A person's email: trimmed and lower-cased, so one address is one person whatever its spelling. */
export const ZStaffEmail = z
  .email({ error: 'must be an email address' })
  .max(254)
  .transform((v) => v.toLowerCase());

const ZDisplayName = z.string().trim().min(1, { error: 'name is required' }).max(100);

export const ZStaff = z.object({
  id: ZId,
  email: z.string(),
  displayName: z.string(),
  role: ZRole,
  active: z.boolean(),
  /** The person takes new conversations (read by routing). */
  available: z.boolean(),
  /** True once the person has signed in and their Supabase user is linked. */
  linked: z.boolean(),
  createdAt: z.date(),
  updatedAt: z.date(),
  lastSeenAt: z.date().nullable(),
});
export type TStaff = z.infer<typeof ZStaff>;

/** What an agent sees of a colleague (for assignment pickers): active people only. */
export const ZStaffSummary = z.object({
  id: ZId,
  displayName: z.string(),
  role: ZRole,
  available: z.boolean(),
});
export type TStaffSummary = z.infer<typeof ZStaffSummary>;

/** `staff.me`: the signed-in person, or a description of the API key (or system) calling. */
export const ZMe = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('staff'), staff: ZStaff }),
  z.object({
    kind: z.enum(['apiKey', 'system']),
    id: z.string(),
    name: z.string(),
    role: ZRole,
  }),
]);
export type TMe = z.infer<typeof ZMe>;

export const ZStaffListInput = z
  .object({
    /** Admins only: include deactivated people (agents always get active people). */
    includeInactive: z.boolean().default(false),
  })
  .default({ includeInactive: false });
export type TStaffListInput = z.infer<typeof ZStaffListInput>;

/** Admins get the full records; agents get `ZStaffSummary` items (see `staff.list`). */
export const ZStaffList = z.object({
  items: z.array(z.union([ZStaff, ZStaffSummary])),
});
export type TStaffList = z.infer<typeof ZStaffList>;

export const ZInviteStaffInput = z.strictObject({
  email: ZStaffEmail,
  displayName: ZDisplayName,
  role: ZRole,
});
export type TInviteStaffInput = z.infer<typeof ZInviteStaffInput>;

/**
 * Admins may change any field; anyone may set their own `available` (and only that). At least one
 * field besides `id` is required.
 */
export const ZUpdateStaffInput = z
  .strictObject({
    id: ZId,
    displayName: ZDisplayName.optional(),
    role: ZRole.optional(),
    active: z.boolean().optional(),
    available: z.boolean().optional(),
  })
  .refine(
    (v) =>
      v.displayName !== undefined ||
      v.role !== undefined ||
      v.active !== undefined ||
      v.available !== undefined,
    { error: 'nothing to change' },
  );
export type TUpdateStaffInput = z.infer<typeof ZUpdateStaffInput>;

export const ZStaffIdInput = z.strictObject({ id: ZId });

/** A single-use ticket that opens one subscription stream within `expiresAt`. */
export const ZStreamTicket = z.object({
  ticket: z.string(),
  expiresAt: z.date(),
});
export type TStreamTicket = z.infer<typeof ZStreamTicket>;
