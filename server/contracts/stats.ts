import { z } from 'zod';

export const ZIntegrationStatus = z.object({
  configured: z.boolean(),
  /** What is missing or wrong, in words an operator can act on. */
  detail: z.string(),
});

export const ZSystemStatus = z.object({
  status: z.enum(['ok', 'degraded']),
  version: z.string(),
  uptimeSeconds: z.number(),
  database: z.object({ mode: z.enum(['embedded', 'postgres']), reachable: z.boolean() }),
  queue: z.object({ reachable: z.boolean() }),
  integrations: z.object({
    openai: ZIntegrationStatus,
    wasender: ZIntegrationStatus,
    webhook: ZIntegrationStatus,
  }),
  persona: z.object({ name: z.string(), model: z.string() }),
});
export type TSystemStatus = z.infer<typeof ZSystemStatus>;
