import { z } from 'zod';

/** The bot's timing, changeable at run time by an admin (defaults come from the environment). */
export const ZBotSettings = z.object({
  /** Quiet time after a customer's latest message before the bot answers the burst. */
  replyQuietMs: z.number().int().min(0).max(600_000),
  /** Minutes a human owner may stay silent before the bot takes the conversation back (0: never). */
  humanQuietMinutes: z
    .number()
    .int()
    .min(0)
    .max(60 * 24 * 30),
  /** Store messages members write in WhatsApp groups (shown with `groups.messages`; never answered). */
  storeGroupMessages: z.boolean(),
});
export type TBotSettings = z.infer<typeof ZBotSettings>;

export const ZBotSettingsUpdate = ZBotSettings.partial()
  .strict()
  .refine((v) => Object.keys(v).length > 0, { error: 'give at least one setting to change' });
export type TBotSettingsUpdate = z.infer<typeof ZBotSettingsUpdate>;
