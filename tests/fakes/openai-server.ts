import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { closeServer, listenOnLoopback, readBody, sendJson } from './http';

/**
 * A real HTTP fake of the OpenAI Chat Completions API (non-streaming) on 127.0.0.1, so the real `openai` SDK
 * can be pointed at it with `baseURL: fake.url`.
 *
 * - `POST /v1/chat/completions` with `Authorization: Bearer <apiKey>`; 401 otherwise.
 * - `GET /v1/models` lists a few model ids (same key check), counted in `modelListings`.
 * - The reply comes from the next scripted step, else the responder, else `Echo: <last user text>`.
 * - `usage` is a deterministic estimate (about 4 characters per token).
 * - Scriptable failures: any status (429 carries a `retry-after` header), hang, socket reset.
 */

export interface FakeChatMessage {
  role: string;
  content?: unknown;
  [key: string]: unknown;
}

export interface FakeChatRequest {
  model?: string;
  messages: FakeChatMessage[];
  [key: string]: unknown;
}

export type FakeOpenAIReply = string | { toolCall: { name: string; arguments: unknown } };

export type FakeOpenAIResponder = (body: FakeChatRequest) => FakeOpenAIReply | Promise<FakeOpenAIReply>;

export interface FakeOpenAIStep {
  /** Respond with this error status and an OpenAI-style error body. */
  status?: number;
  /** For 429: the `retry-after` header in seconds (default 1). Set null to omit it. */
  retryAfter?: number | null;
  message?: string;
  /** Wait this long before acting (alone: then answer normally). */
  delayMs?: number;
  /** Never answer (until `close()`), to exercise client timeouts. */
  hang?: boolean;
  /** Destroy the socket without answering. */
  reset?: boolean;
  /** Answer this instead of asking the responder. */
  reply?: FakeOpenAIReply;
}

export interface FakeOpenAIRequest {
  body: FakeChatRequest;
  at: number;
}

export interface FakeOpenAIOptions {
  /** Bearer key to accept (default: random). */
  apiKey?: string;
  responder?: FakeOpenAIResponder;
  /** Delay before every answer. */
  delayMs?: number;
}

export interface FakeOpenAI {
  /** Base URL ending in `/v1`, for `new OpenAI({ baseURL })`. */
  url: string;
  apiKey: string;
  /** Every authorised, well-formed completion request, in order (scripted failures included). */
  requests: FakeOpenAIRequest[];
  /** How many times `GET /v1/models` answered. */
  readonly modelListings: number;
  script(...steps: FakeOpenAIStep[]): void;
  setDelay(ms: number): void;
  setResponder(responder: FakeOpenAIResponder | null): void;
  close(): Promise<void>;
}

/** Text of a message's content: a string, or the text parts of a content array. */
export function contentText(content: unknown): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  return content
    .map((part: unknown) =>
      typeof part === 'object' && part !== null && 'text' in part && typeof part.text === 'string'
        ? part.text
        : '',
    )
    .filter((text) => text !== '')
    .join(' ');
}

export function lastUserText(body: FakeChatRequest): string {
  for (let i = body.messages.length - 1; i >= 0; i--) {
    const message = body.messages[i];
    if (message?.role === 'user') return contentText(message.content);
  }
  return '';
}

/** Model ids `GET /v1/models` lists. */
export const FAKE_MODELS = ['gpt-4o-mini', 'gpt-4o', 'fake-model'];

export const defaultResponder: FakeOpenAIResponder = (body) => `Echo: ${lastUserText(body)}`;

function estimateTokens(text: string): number {
  return Math.ceil(text.length / 4);
}

function sendError(
  res: ServerResponse,
  status: number,
  message: string,
  type: string,
  code: string | null,
  headers: Record<string, string> = {},
): void {
  sendJson(res, status, { error: { message, type, param: null, code } }, headers);
}

function parseRequest(raw: string): FakeChatRequest | string {
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    return 'We could not parse the JSON body of your request.';
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    return 'The body must be a JSON object.';
  const messages: unknown = (value as Record<string, unknown>).messages;
  if (!Array.isArray(messages) || messages.length === 0) return "'messages' must be a non-empty array.";
  for (const [i, message] of messages.entries()) {
    if (
      typeof message !== 'object' ||
      message === null ||
      typeof (message as { role?: unknown }).role !== 'string'
    ) {
      return `'messages[${i}].role' is required.`;
    }
  }
  return value as FakeChatRequest;
}

export async function startFakeOpenAI(options: FakeOpenAIOptions = {}): Promise<FakeOpenAI> {
  const apiKey = options.apiKey ?? `sk-fake-${randomBytes(12).toString('hex')}`;
  const requests: FakeOpenAIRequest[] = [];
  const steps: FakeOpenAIStep[] = [];
  const timers = new Set<NodeJS.Timeout>();
  let responder: FakeOpenAIResponder = options.responder ?? defaultResponder;
  let delayMs = options.delayMs ?? 0;
  let counter = 0;
  let modelListings = 0;
  let closed = false;

  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        timers.delete(timer);
        resolve();
      }, ms);
      timers.add(timer);
    });

  function completion(body: FakeChatRequest, reply: FakeOpenAIReply) {
    counter += 1;
    const promptTokens = body.messages.reduce(
      (sum, m) => sum + 4 + estimateTokens(contentText(m.content)),
      0,
    );
    const base = {
      id: `chatcmpl-fake-${counter}`,
      object: 'chat.completion',
      created: Math.floor(Date.now() / 1000),
      model: typeof body.model === 'string' ? body.model : 'fake-model',
      system_fingerprint: null,
    };
    if (typeof reply === 'string') {
      const completionTokens = Math.max(1, estimateTokens(reply));
      return {
        ...base,
        choices: [
          {
            index: 0,
            message: { role: 'assistant', content: reply, refusal: null },
            logprobs: null,
            finish_reason: 'stop',
          },
        ],
        usage: {
          prompt_tokens: promptTokens,
          completion_tokens: completionTokens,
          total_tokens: promptTokens + completionTokens,
        },
      };
    }
    const args =
      typeof reply.toolCall.arguments === 'string'
        ? reply.toolCall.arguments
        : JSON.stringify(reply.toolCall.arguments ?? {});
    const completionTokens = Math.max(1, estimateTokens(reply.toolCall.name + args));
    return {
      ...base,
      choices: [
        {
          index: 0,
          message: {
            role: 'assistant',
            content: null,
            refusal: null,
            tool_calls: [
              {
                id: `call_fake_${counter}`,
                type: 'function',
                function: { name: reply.toolCall.name, arguments: args },
              },
            ],
          },
          logprobs: null,
          finish_reason: 'tool_calls',
        },
      ],
      usage: {
        prompt_tokens: promptTokens,
        completion_tokens: completionTokens,
        total_tokens: promptTokens + completionTokens,
      },
    };
  }

  async function handleCompletion(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const raw = await readBody(req);
    if (req.headers.authorization !== `Bearer ${apiKey}`) {
      sendError(res, 401, 'Incorrect API key provided.', 'invalid_request_error', 'invalid_api_key');
      return;
    }
    const body = parseRequest(raw);
    if (typeof body === 'string') {
      sendError(res, 400, body, 'invalid_request_error', null);
      return;
    }
    if (body.stream === true) {
      sendError(res, 400, 'This fake does not support stream: true.', 'invalid_request_error', null);
      return;
    }
    requests.push({ body, at: Date.now() });

    const step = steps.shift();
    const wait = (step?.delayMs ?? 0) + delayMs;
    if (wait > 0) await sleep(wait);
    if (closed || step?.hang) return;
    if (step?.reset) {
      req.socket.destroy();
      return;
    }
    if (step?.status !== undefined) {
      if (step.status === 429) {
        const retryAfter = step.retryAfter === undefined ? 1 : step.retryAfter;
        sendError(
          res,
          429,
          step.message ?? 'Rate limit reached for requests.',
          'requests',
          'rate_limit_exceeded',
          retryAfter === null ? {} : { 'retry-after': String(retryAfter) },
        );
      } else {
        sendError(res, step.status, step.message ?? `Scripted error ${step.status}`, 'server_error', null);
      }
      return;
    }
    const reply = step?.reply ?? (await responder(body));
    sendJson(res, 200, completion(body, reply), { 'x-request-id': `req_fake_${counter}` });
  }

  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method === 'POST' && path === '/v1/chat/completions') {
      handleCompletion(req, res).catch((error: unknown) => {
        const message = error instanceof Error ? error.message : String(error);
        sendError(res, 500, `fake responder failed: ${message}`, 'server_error', null);
      });
      return;
    }
    if (req.method === 'GET' && path === '/v1/models') {
      req.resume();
      if (req.headers.authorization !== `Bearer ${apiKey}`) {
        sendError(res, 401, 'Incorrect API key provided.', 'invalid_request_error', 'invalid_api_key');
        return;
      }
      modelListings += 1;
      const created = Math.floor(Date.now() / 1000);
      sendJson(res, 200, {
        object: 'list',
        data: FAKE_MODELS.map((id) => ({ id, object: 'model', created, owned_by: 'fake' })),
      });
      return;
    }
    req.resume();
    sendError(res, 404, `Unknown route ${req.method ?? ''} ${path ?? ''}`, 'invalid_request_error', null);
  });

  const port = await listenOnLoopback(server);

  return {
    url: `http://127.0.0.1:${port}/v1`,
    apiKey,
    requests,
    get modelListings() {
      return modelListings;
    },
    script(...next) {
      steps.push(...next);
    },
    setDelay(ms) {
      delayMs = ms;
    },
    setResponder(next) {
      responder = next ?? defaultResponder;
    },
    async close() {
      if (closed) return;
      closed = true;
      await closeServer(server, timers);
    },
  };
}
