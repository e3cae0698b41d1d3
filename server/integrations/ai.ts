import OpenAI from 'openai';

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

export interface AiRequest {
  model: string;
  messages: ChatMessage[];
  temperature: number;
  maxTokens: number;
  /** Offer the model a `request_human` tool it may call instead of answering. */
  allowHandoff: boolean;
  /** Images the customer sent (data: URLs), given with the last user message as image parts. */
  images?: string[];
}

/** The messages as the API takes them: the images go with the last user message. */
function withImages(messages: ChatMessage[], images: string[] | undefined) {
  if (!images?.length) return messages;
  const at = messages.findLastIndex((m) => m.role === 'user');
  if (at === -1) return messages;
  const out: OpenAI.Chat.ChatCompletionMessageParam[] = [...messages];
  out[at] = {
    role: 'user',
    content: [
      { type: 'text', text: messages[at]!.content },
      ...images.map((url) => ({ type: 'image_url' as const, image_url: { url } })),
    ],
  };
  return out;
}

export type AiResult =
  | { kind: 'text'; text: string; usage: AiUsageInfo }
  | { kind: 'handoff'; reason: string; usage: AiUsageInfo };

export interface AiUsageInfo {
  model: string;
  promptTokens: number;
  completionTokens: number;
  latencyMs: number;
}

/** The model call failed in a way worth retrying (rate limit, server error, timeout, network). */
export class AiRetryableError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'AiRetryableError';
  }
}

/** The model call failed and retrying will not help (bad request, bad key, no key). */
export class AiFatalError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'AiFatalError';
  }
}

export interface AiClient {
  readonly configured: boolean;
  complete(req: AiRequest, opts?: { signal?: AbortSignal }): Promise<AiResult>;
}

const HANDOFF_TOOL = {
  type: 'function' as const,
  function: {
    name: 'request_human',
    description:
      'Hand the conversation to a human colleague: when the customer asks for a person, is upset, or needs something only staff can do.',
    parameters: {
      type: 'object',
      properties: { reason: { type: 'string', description: 'Why a human is needed, in a few words' } },
      required: ['reason'],
    },
  },
};

/**
 * Chat completions through the openai SDK. Retries are the job queue's business (with backoff and a
 * durable attempt count), so the SDK's own retries are off and errors are classified here.
 */
export function createAiClient(opts: {
  apiKey: string | undefined;
  baseUrl?: string;
  timeoutMs: number;
}): AiClient {
  const client = opts.apiKey
    ? new OpenAI({ apiKey: opts.apiKey, baseURL: opts.baseUrl, timeout: opts.timeoutMs, maxRetries: 0 })
    : null;
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
            messages: withImages(req.messages, req.images),
            temperature: req.temperature,
            max_tokens: req.maxTokens,
            ...(req.allowHandoff ? { tools: [HANDOFF_TOOL] } : {}),
          },
          { signal: o.signal },
        );
      } catch (err) {
        throw classify(err);
      }
      const usage: AiUsageInfo = {
        model: completion.model || req.model,
        promptTokens: completion.usage?.prompt_tokens ?? 0,
        completionTokens: completion.usage?.completion_tokens ?? 0,
        latencyMs: Date.now() - started,
      };
      const choice = completion.choices[0];
      const call = choice?.message.tool_calls?.find(
        (c) => c.type === 'function' && c.function.name === 'request_human',
      );
      if (call && call.type === 'function') {
        let reason = 'The assistant asked for a human';
        try {
          const args = JSON.parse(call.function.arguments) as { reason?: unknown };
          if (typeof args.reason === 'string' && args.reason.trim())
            reason = args.reason.trim().slice(0, 500);
        } catch {
          // Malformed tool arguments still mean the model wants a human.
        }
        return { kind: 'handoff', reason, usage };
      }
      const text = choice?.message.content?.trim();
      if (!text) throw new AiRetryableError('The model returned an empty answer');
      return { kind: 'text', text, usage };
    },
  };
}

function classify(err: unknown): Error {
  if (err instanceof OpenAI.APIConnectionTimeoutError || err instanceof OpenAI.APIConnectionError) {
    return new AiRetryableError(`OpenAI request failed: ${err.message}`, { cause: err });
  }
  if (err instanceof OpenAI.APIError) {
    const status = err.status ?? 0;
    const retryable = status === 429 || status === 408 || status >= 500;
    const message = `OpenAI answered ${status || 'an error'}`;
    return retryable
      ? new AiRetryableError(message, { cause: err })
      : new AiFatalError(message, { cause: err });
  }
  if (err instanceof Error && err.name === 'AbortError')
    return new AiRetryableError('OpenAI request aborted');
  return new AiRetryableError('OpenAI request failed', { cause: err });
}
