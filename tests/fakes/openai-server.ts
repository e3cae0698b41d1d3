import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { closeServer, listenOnLoopback, readBody, sendJson } from './http';

/**
 * A real HTTP fake of the OpenAI Chat Completions API (non-streaming) on 127.0.0.1, so the real `openai` SDK
 * can be pointed at it with `baseURL: fake.url`.
 *
 * - `POST /v1/chat/completions` with `Authorization: Bearer <apiKey>`; 401 otherwise.
 * - `GET /v1/models` lists a few model ids (same key check), counted in `modelListings`.
 * - `POST /v1/embeddings` answers deterministic vectors (`fakeEmbedding`: a hashed bag of words, so texts
 *   sharing words get similar vectors), 1536 long unless `dimensions` asks otherwise; scriptable failures
 *   through `scriptEmbeddings`, every request kept in `embeddingRequests`.
 * - `POST /v1/audio/transcriptions` (multipart: `file`, `model`) answers `{ text }`: the next text given
 *   to `scriptTranscripts`, else `Transcript of <n> bytes`; every request kept in `transcriptionRequests`.
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

export type FakeOpenAIReply =
  | string
  | { toolCall: { name: string; arguments: unknown } }
  /** Several tool calls in one answer (arguments as JSON text or a value), with optional text beside them. */
  | FakeToolCallsReply
  /** A structured-output answer: the value as the message's JSON content. */
  | { json: unknown };

export interface FakeToolCallsReply {
  toolCalls: { name: string; arguments: unknown }[];
  text?: string;
}

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
  /** Delay before every embeddings answer instead of `delayMs` (a query embedding is far quicker than a chat answer). */
  embeddingDelayMs?: number;
}

export interface FakeOpenAI {
  /** Base URL ending in `/v1`, for `new OpenAI({ baseURL })`. */
  url: string;
  apiKey: string;
  /** Every authorised, well-formed completion request, in order (scripted failures included). */
  requests: FakeOpenAIRequest[];
  /** How many times `GET /v1/models` answered. */
  readonly modelListings: number;
  /** Every authorised embeddings request (scripted failures included): the inputs of each call. */
  embeddingRequests: { model: string; input: string[]; at: number }[];
  /** Every authorised transcription request: model, file name and type, and the file's bytes. */
  transcriptionRequests: { model: string; fileName: string; type: string; bytes: Uint8Array; at: number }[];
  /** Texts the next transcription requests answer, one each. */
  scriptTranscripts(...texts: string[]): void;
  script(...steps: FakeOpenAIStep[]): void;
  /** Steps for the next embeddings calls (status, delay, hang, reset; `reply` is ignored). */
  scriptEmbeddings(...steps: FakeOpenAIStep[]): void;
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

/** The name of the JSON schema a request asks its answer to follow (`response_format`), or null. */
export function structuredOutputName(body: FakeChatRequest): string | null {
  const format = body.response_format as { type?: unknown; json_schema?: { name?: unknown } } | undefined;
  if (format?.type !== 'json_schema') return null;
  return typeof format.json_schema?.name === 'string' ? format.json_schema.name : '';
}

export const defaultResponder: FakeOpenAIResponder = (body) => `Echo: ${lastUserText(body)}`;

/** Vector length of the fake's embeddings unless the request sets `dimensions` (text-embedding-3-small's). */
export const FAKE_EMBEDDING_DIMS = 1536;

const STOP_WORDS = new Set(
  (
    'a an and are as at be but by can could do does did for from have has had how i if in is it its me my ' +
    'no not of on or our so than that the their them then there these they this to too us was we were what ' +
    'when where which who why will with would you your yours'
  ).split(' '),
);

/** Lower-cased words without stop words, plurals folded ("sundays" → "sunday", "deliveries" → "delivery"). */
export function fakeTokens(text: string): string[] {
  const words =
    text
      .toLowerCase()
      .normalize('NFKD')
      .replace(/\p{M}/gu, '')
      .match(/[\p{L}\p{N}]+/gu) ?? [];
  return words
    .filter((w) => !STOP_WORDS.has(w))
    .map((w) => (w.length > 4 && w.endsWith('ies') ? `${w.slice(0, -3)}y` : w))
    .map((w) => (w.length > 3 && w.endsWith('s') && !w.endsWith('ss') ? w.slice(0, -1) : w));
}

function fnv1a(text: string, seed: number): number {
  let h = 0x811c9dc5 ^ seed;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/**
 * A deterministic embedding: each word (see `fakeTokens`) adds ±1 at two hashed positions, the vector is
 * normalised. Texts sharing words have a positive cosine similarity, unrelated texts about zero.
 */
export function fakeEmbedding(text: string, dims = FAKE_EMBEDDING_DIMS): number[] {
  const v = new Array<number>(dims).fill(0);
  for (const word of fakeTokens(text)) {
    for (const seed of [1, 2]) {
      const h = fnv1a(word, seed);
      v[h % dims]! += h & 0x80000000 ? 1 : -1;
    }
  }
  const norm = Math.hypot(...v) || 1;
  return v.map((x) => x / norm);
}

/**
 * A model that answers from the business facts it is given: the first passage of the
 * `<business_facts>` block, quoted with its source; without facts, the persona's "I'll ask a
 * colleague" answer to a question about the business.
 */
export const knowledgeResponder: FakeOpenAIResponder = (body) => {
  for (const m of body.messages) {
    const text = contentText(m.content);
    const match = /<business_facts>\n([\s\S]*)\n<\/business_facts>/.exec(text);
    if (!match) continue;
    const facts = JSON.parse(match[1]!) as { source: string; text: string }[];
    const first = facts[0];
    if (first) return `According to ${first.source}: ${first.text}`;
  }
  return "I'm not sure about that, sorry. I can ask a colleague and get back to you.";
};

function estimateTokens(text: string): number {
  return Math.ceil(text.length / 4);
}

/** A completion whose message carries several tool calls (and the reply's text, if any). */
function toolCallsCompletion(base: object, promptTokens: number, reply: FakeToolCallsReply) {
  const id = (base as { id: string }).id.replace('chatcmpl-fake-', 'call_fake_');
  const toolCalls = reply.toolCalls.map((call, i) => ({
    id: `${id}_${i}`,
    type: 'function',
    function: {
      name: call.name,
      arguments: typeof call.arguments === 'string' ? call.arguments : JSON.stringify(call.arguments ?? {}),
    },
  }));
  const written = (reply.text ?? '') + toolCalls.map((c) => c.function.name + c.function.arguments).join('');
  const completionTokens = Math.max(1, estimateTokens(written));
  return {
    ...base,
    choices: [
      {
        index: 0,
        message: { role: 'assistant', content: reply.text ?? null, refusal: null, tool_calls: toolCalls },
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
  const embeddingSteps: FakeOpenAIStep[] = [];
  const embeddingRequests: FakeOpenAI['embeddingRequests'] = [];
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

  function completion(body: FakeChatRequest, given: FakeOpenAIReply) {
    counter += 1;
    const reply = typeof given === 'object' && 'json' in given ? JSON.stringify(given.json) : given;
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
    if ('toolCalls' in reply) return toolCallsCompletion(base, promptTokens, reply);
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

  /**
   * Plays a scripted step's delay and fault (hang, connection reset, error status); true when the
   * request is answered (or abandoned) by it, false when the normal answer should follow.
   */
  async function playStep(
    step: FakeOpenAIStep | undefined,
    req: IncomingMessage,
    res: ServerResponse,
    baseDelayMs = delayMs,
  ): Promise<boolean> {
    const wait = (step?.delayMs ?? 0) + baseDelayMs;
    if (wait > 0) await sleep(wait);
    if (closed || step?.hang) return true;
    if (step?.reset) {
      req.socket.destroy();
      return true;
    }
    if (step?.status === undefined) return false;
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
    return true;
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
    if (await playStep(step, req, res)) return;
    const reply = step?.reply ?? (await responder(body));
    sendJson(res, 200, completion(body, reply), { 'x-request-id': `req_fake_${counter}` });
  }

  async function handleEmbeddings(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const raw = await readBody(req);
    if (req.headers.authorization !== `Bearer ${apiKey}`) {
      sendError(res, 401, 'Incorrect API key provided.', 'invalid_request_error', 'invalid_api_key');
      return;
    }
    let body: { model?: unknown; input?: unknown; dimensions?: unknown; encoding_format?: unknown };
    try {
      body = JSON.parse(raw) as typeof body;
    } catch {
      sendError(res, 400, 'We could not parse the JSON body of your request.', 'invalid_request_error', null);
      return;
    }
    const input = typeof body.input === 'string' ? [body.input] : body.input;
    if (
      typeof body.model !== 'string' ||
      !Array.isArray(input) ||
      input.length === 0 ||
      input.length > 2048 ||
      !input.every((s) => typeof s === 'string' && s.length > 0)
    ) {
      sendError(res, 400, "'model' and a non-empty 'input' are required.", 'invalid_request_error', null);
      return;
    }
    const dims =
      typeof body.dimensions === 'number' && Number.isInteger(body.dimensions) && body.dimensions > 0
        ? body.dimensions
        : FAKE_EMBEDDING_DIMS;
    embeddingRequests.push({ model: body.model, input: input as string[], at: Date.now() });
    if (await playStep(embeddingSteps.shift(), req, res, options.embeddingDelayMs ?? delayMs)) return;
    const tokens = (input as string[]).reduce((n, s) => n + estimateTokens(s), 0);
    sendJson(res, 200, {
      object: 'list',
      model: body.model,
      data: (input as string[]).map((text, index) => {
        const vector = fakeEmbedding(text, dims);
        const embedding =
          body.encoding_format === 'base64'
            ? Buffer.from(new Float32Array(vector).buffer).toString('base64')
            : vector;
        return { object: 'embedding', index, embedding };
      }),
      usage: { prompt_tokens: tokens, total_tokens: tokens },
    });
  }

  const transcriptionRequests: FakeOpenAI['transcriptionRequests'] = [];
  const transcripts: string[] = [];

  async function handleTranscription(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    if (req.headers.authorization !== `Bearer ${apiKey}`) {
      sendError(res, 401, 'Incorrect API key provided.', 'invalid_request_error', 'invalid_api_key');
      return;
    }
    let form: FormData;
    try {
      form = await new Request('http://fake/', {
        method: 'POST',
        headers: { 'content-type': String(req.headers['content-type'] ?? '') },
        body: Buffer.concat(chunks),
      }).formData();
    } catch {
      sendError(res, 400, 'Expected multipart/form-data.', 'invalid_request_error', null);
      return;
    }
    const file = form.get('file');
    const model = form.get('model');
    if (!(file instanceof Blob) || typeof model !== 'string') {
      sendError(res, 400, 'file and model are required.', 'invalid_request_error', null);
      return;
    }
    const bytes = new Uint8Array(await file.arrayBuffer());
    transcriptionRequests.push({
      model,
      fileName: file instanceof File ? file.name : '',
      type: file.type,
      bytes,
      at: Date.now(),
    });
    sendJson(res, 200, { text: transcripts.shift() ?? `Transcript of ${bytes.byteLength} bytes` });
  }

  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method === 'POST' && path === '/v1/audio/transcriptions') {
      handleTranscription(req, res).catch((error: unknown) => {
        const message = error instanceof Error ? error.message : String(error);
        sendError(res, 500, `fake transcription failed: ${message}`, 'server_error', null);
      });
      return;
    }
    if (req.method === 'POST' && path === '/v1/embeddings') {
      handleEmbeddings(req, res).catch((error: unknown) => {
        const message = error instanceof Error ? error.message : String(error);
        sendError(res, 500, `fake embeddings failed: ${message}`, 'server_error', null);
      });
      return;
    }
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
    embeddingRequests,
    transcriptionRequests,
    scriptTranscripts(...texts) {
      transcripts.push(...texts);
    },
    script(...next) {
      steps.push(...next);
    },
    scriptEmbeddings(...next) {
      embeddingSteps.push(...next);
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
