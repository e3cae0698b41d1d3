import OpenAI from 'openai';

/** A tool call the model made (its arguments as the JSON text the model wrote). */
export interface AiToolCall {
  id: string;
  name: string;
  arguments: string;
}

export type ChatMessage =
  | { role: 'system' | 'user'; content: string }
  | { role: 'assistant'; content: string; toolCalls?: AiToolCall[] }
  | { role: 'tool'; toolCallId: string; content: string };

/** A function the model may call: its name, what it does, and its arguments as a JSON schema. */
export interface AiTool {
  name: string;
  description: string;
  parameters: Record<string, unknown>;
}

export interface AiRequest {
  model: string;
  messages: ChatMessage[];
  temperature: number;
  maxTokens: number;
  /** Functions the model may call instead of (or besides) answering. */
  tools?: AiTool[];
  /** 'none': the tools are listed but the model must answer in text. */
  toolChoice?: 'auto' | 'none';
  /** Images the customer sent (data: URLs), given with the last user message as image parts. */
  images?: string[];
}

/** The messages as the API takes them: the images go with the last user message. */
function withImages(
  messages: OpenAI.Chat.ChatCompletionMessageParam[],
  images: string[] | undefined,
): OpenAI.Chat.ChatCompletionMessageParam[] {
  if (!images?.length) return messages;
  const at = messages.findLastIndex((m) => m.role === 'user');
  if (at === -1) return messages;
  const out: OpenAI.Chat.ChatCompletionMessageParam[] = [...messages];
  out[at] = {
    role: 'user',
    content: [
      { type: 'text', text: String(messages[at]!.content ?? '') },
      ...images.map((url) => ({ type: 'image_url' as const, image_url: { url } })),
    ],
  };
  return out;
}

/**
 * What the model said: text, or tool calls (with any text it wrote beside them). The client does not
 * interpret tools: what a call means is the caller's business.
 */
export type AiResult =
  | { kind: 'text'; text: string; usage: AiUsageInfo }
  | { kind: 'tools'; calls: AiToolCall[]; text: string | null; usage: AiUsageInfo };

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

export interface OpenAiOptions {
  apiKey: string | undefined;
  baseUrl?: string;
  timeoutMs: number;
}

/** The openai SDK client every model call uses (null without a key): no SDK retries, the jobs retry. */
export function openAiClient(opts: OpenAiOptions): OpenAI | null {
  return opts.apiKey
    ? new OpenAI({ apiKey: opts.apiKey, baseURL: opts.baseUrl, timeout: opts.timeoutMs, maxRetries: 0 })
    : null;
}

/**
 * Chat completions through the openai SDK. Retries are the job queue's business (with backoff and a
 * durable attempt count), so the SDK's own retries are off and errors are classified here.
 */
export function createAiClient(opts: OpenAiOptions): AiClient {
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
            messages: withImages(req.messages.map(toOpenAI), req.images),
            temperature: req.temperature,
            max_tokens: req.maxTokens,
            ...(req.tools?.length
              ? {
                  tools: req.tools.map((t) => ({
                    type: 'function' as const,
                    function: { name: t.name, description: t.description, parameters: t.parameters },
                  })),
                  tool_choice: req.toolChoice ?? 'auto',
                }
              : {}),
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
      const choice = completion.choices[0];
      const calls: AiToolCall[] = (choice?.message.tool_calls ?? []).flatMap((c) =>
        c.type === 'function' ? [{ id: c.id, name: c.function.name, arguments: c.function.arguments }] : [],
      );
      if (calls.length) return { kind: 'tools', calls, text: choice?.message.content?.trim() || null, usage };
      const text = choice?.message.content?.trim();
      if (!text) throw new AiRetryableError('The model returned an empty answer');
      return { kind: 'text', text, usage };
    },
  };
}

/** One chat message in the API's shape (tool results and tool calls included). */
export function toOpenAI(m: ChatMessage): OpenAI.Chat.Completions.ChatCompletionMessageParam {
  if (m.role === 'tool') return { role: 'tool', tool_call_id: m.toolCallId, content: m.content };
  if (m.role === 'assistant' && m.toolCalls?.length) {
    return {
      role: 'assistant',
      content: m.content || null,
      tool_calls: m.toolCalls.map((c) => ({
        id: c.id,
        type: 'function' as const,
        function: { name: c.name, arguments: c.arguments },
      })),
    };
  }
  return { role: m.role, content: m.content };
}

/**
 * An openai SDK error as retryable (rate limit, server error, timeout, network) or fatal (bad request,
 * bad key), named after the endpoint (`what`: "OpenAI", "Embeddings", ...). Messages carry no secret.
 */
export function classifyOpenAiError(err: unknown, what = 'OpenAI', answered = `${what} answered`): Error {
  if (err instanceof OpenAI.APIConnectionTimeoutError || err instanceof OpenAI.APIConnectionError) {
    return new AiRetryableError(`${what} request failed: ${err.message}`, { cause: err });
  }
  if (err instanceof OpenAI.APIError) {
    const status = err.status ?? 0;
    const retryable = status === 429 || status === 408 || status >= 500;
    const message = `${answered} ${status || 'an error'}`;
    return retryable
      ? new AiRetryableError(message, { cause: err })
      : new AiFatalError(message, { cause: err });
  }
  if (err instanceof Error && err.name === 'AbortError')
    return new AiRetryableError(`${what} request aborted`);
  return new AiRetryableError(`${what} request failed`, { cause: err });
}
