import type OpenAI from 'openai';
import { z } from 'zod';
import {
  AiFatalError,
  type AiUsageInfo,
  type ChatMessage,
  classifyOpenAiError,
  type OpenAiOptions,
  openAiClient,
  toOpenAI,
} from './ai';

/** The model answered, but not in the shape the schema asks for (bad JSON, missing or wrong fields). */
export class AiInvalidOutputError extends Error {
  constructor(
    message: string,
    readonly issues: string[] = [],
  ) {
    super(message);
    this.name = 'AiInvalidOutputError';
  }
}

export interface StructuredRequest<T extends z.ZodType> {
  model: string;
  messages: ChatMessage[];
  /** The answer's shape: sent to the model as a strict JSON schema, and checked again on the answer. */
  schema: T;
  /** The schema's name as the model sees it (letters, digits, `_` and `-`). */
  name: string;
  temperature?: number;
  maxTokens?: number;
}

export interface StructuredClient {
  readonly configured: boolean;
  /**
   * One chat completion whose answer must match `schema` (OpenAI structured outputs). Throws
   * AiRetryableError (rate limit, server error, network), AiFatalError (bad request, no key) or
   * AiInvalidOutputError (an answer that is not JSON or does not match the schema).
   */
  complete<T extends z.ZodType>(
    req: StructuredRequest<T>,
    opts?: { signal?: AbortSignal },
  ): Promise<{ value: z.infer<T>; usage: AiUsageInfo }>;
}

/** A zod schema as the strict JSON schema OpenAI's structured outputs accept. */
export function strictJsonSchema(schema: z.ZodType): Record<string, unknown> {
  const json = z.toJSONSchema(schema, { target: 'draft-7', io: 'output' }) as Record<string, unknown>;
  delete json.$schema;
  return json;
}

/**
 * Structured chat completions through the openai SDK, next to the reply client: the same key, base URL
 * and timeout, no SDK retries (the job queue retries), errors classified the same way.
 */
export function createStructuredClient(opts: OpenAiOptions): StructuredClient {
  const client = openAiClient(opts);
  return {
    configured: client !== null,
    async complete(req, o = {}) {
      if (!client) throw new AiFatalError('OPENAI_API_KEY is not configured');
      const started = Date.now();
      let completion: OpenAI.Chat.Completions.ChatCompletion;
      try {
        completion = await client.chat.completions.create(
          {
            model: req.model,
            messages: req.messages.map(toOpenAI),
            temperature: req.temperature ?? 0,
            ...(req.maxTokens ? { max_tokens: req.maxTokens } : {}),
            response_format: {
              type: 'json_schema',
              json_schema: { name: req.name, strict: true, schema: strictJsonSchema(req.schema) },
            },
          },
          { signal: o.signal },
        );
      } catch (err) {
        throw classifyOpenAiError(err);
      }
      const usage: AiUsageInfo = {
        model: completion.model || req.model,
        promptTokens: completion.usage?.prompt_tokens ?? 0,
        completionTokens: completion.usage?.completion_tokens ?? 0,
        latencyMs: Date.now() - started,
      };
      const message = completion.choices[0]?.message;
      if (message?.refusal) throw new AiInvalidOutputError('The model refused to answer');
      const text = message?.content?.trim();
      if (!text) throw new AiInvalidOutputError('The model returned an empty answer');
      let raw: unknown;
      try {
        raw = JSON.parse(text);
      } catch {
        throw new AiInvalidOutputError('The model answered with text that is not JSON');
      }
      const parsed = req.schema.safeParse(raw);
      if (!parsed.success) {
        const issues = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
        throw new AiInvalidOutputError('The model answer does not match the schema', issues.slice(0, 20));
      }
      return { value: parsed.data, usage };
    },
  };
}
