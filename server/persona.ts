import { readFileSync } from 'node:fs';
import { z } from 'zod';

/** The bot's voice and behaviour, read from persona.json and validated at startup. */
export const personaSchema = z
  .object({
    name: z.string().min(1),
    description: z.string().min(1),
    systemPrompt: z.string().min(1),
    fallbackMessage: z.string().min(1),
    handoff: z
      .object({
        keywords: z.array(z.string().min(1)).default([]),
        message: z.string().min(1),
        /** Sent when the conversation is handed back to the bot (optional per hand-back). */
        backMessage: z.string().min(1),
      })
      .strict(),
    optOut: z
      .object({
        keywords: z.array(z.string().min(1)).min(1),
        confirmation: z.string().min(1),
        optInKeywords: z.array(z.string().min(1)).min(1),
        optInConfirmation: z.string().min(1),
      })
      .strict(),
    nonText: z
      .object({
        /** Reply to images, audio, documents and other non-text messages. */
        reply: z.string().min(1),
      })
      .strict(),
    /**
     * Media messages: `vision` sends customers' photos to the model as images (a model that reads
     * images is needed); `handoff` hands a conversation to a person when the bot cannot read a file
     * the customer sent (after the non-text reply). Voice notes are transcribed either way.
     */
    media: z
      .object({ vision: z.boolean().default(false), handoff: z.boolean().default(false) })
      .strict()
      .optional(),
    replySplitting: z
      .object({
        maxChars: z.number().int().min(50).max(4096),
        maxParts: z.number().int().min(1).max(20),
        delayMs: z.number().int().min(0).max(60_000),
      })
      .strict(),
    model: z
      .object({
        name: z.string().min(1),
        temperature: z.number().min(0).max(2),
        maxTokens: z.number().int().min(16).max(16_384),
      })
      .strict(),
  })
  .strict();

export type Persona = z.infer<typeof personaSchema>;

export class PersonaError extends Error {
  constructor(
    readonly file: string,
    readonly problems: string[],
  ) {
    super(`Invalid persona file ${file}:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'PersonaError';
  }
}

export function parsePersona(raw: unknown, file = 'persona.json'): Persona {
  const parsed = personaSchema.safeParse(raw);
  if (!parsed.success) {
    throw new PersonaError(
      file,
      parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`),
    );
  }
  return parsed.data;
}

export function loadPersona(file: string): Persona {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new PersonaError(file, [`cannot be read: ${(err as NodeJS.ErrnoException).code ?? 'error'}`]);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new PersonaError(file, [`is not valid JSON: ${(err as Error).message}`]);
  }
  return parsePersona(raw, file);
}
