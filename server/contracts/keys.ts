import { z } from 'zod';
import { ZId, ZRole } from './common';

export const ZCreateKeyInput = z.object({
  name: z.string().trim().min(1, { error: 'name is required' }).max(100),
  role: ZRole,
});
export type TCreateKeyInput = z.infer<typeof ZCreateKeyInput>;

export const ZApiKey = z.object({
  id: ZId,
  name: z.string(),
  prefix: z.string(),
  role: ZRole,
  createdAt: z.date(),
  lastUsedAt: z.date().nullable(),
  revokedAt: z.date().nullable(),
});
export type TApiKey = z.infer<typeof ZApiKey>;

/** Returned once, at creation: the only time the full key is shown. */
export const ZCreatedKey = ZApiKey.extend({ key: z.string() });
export type TCreatedKey = z.infer<typeof ZCreatedKey>;

export const ZRevokeKeyInput = z.object({ id: ZId });
