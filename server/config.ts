import { existsSync } from 'node:fs';
import { isIP } from 'node:net';
import path from 'node:path';
import { z } from 'zod';

/**
 * The only reader of process.env. Every setting the server knows is declared here with its default;
 * README.md documents each one.
 */

const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'], { error: 'must be true or false' })
  .transform((v) => v === 'true' || v === '1' || v === 'yes');

const int = (min: number, max: number) =>
  z.coerce
    .number({ error: 'must be a number' })
    .int({ error: 'must be a whole number' })
    .min(min, { error: `must be at least ${min}` })
    .max(max, { error: `must be at most ${max}` });

const optionalSecret = z
  .string()
  .trim()
  .optional()
  .transform((v) => (v ? v : undefined));

/**
 * Fastify's `trustProxy`: false (the client is the peer), true (trust every proxy: only behind one
 * that always sets X-Forwarded-For), a hop count, or the proxies' addresses and CIDR ranges.
 */
const trustProxy = z
  .string()
  .trim()
  .default('false')
  .transform((v, ctx): boolean | number | string[] => {
    const lower = v.toLowerCase();
    if (lower === '' || lower === 'false' || lower === '0' || lower === 'no') return false;
    if (lower === 'true' || lower === 'yes') return true;
    if (/^\d+$/.test(v)) {
      const hops = Number(v);
      if (hops <= 100) return hops;
    }
    const list = v
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
    const bad = list.filter((a) => !isAddressOrRange(a));
    if (bad.length === 0 && list.length > 0) return list;
    ctx.addIssue({
      code: 'custom',
      message: `must be false, true, a hop count (0-100) or comma-separated proxy addresses/CIDR ranges (not: ${bad.join(', ')})`,
    });
    return z.NEVER;
  });

function isAddressOrRange(value: string): boolean {
  const [address, bits, ...rest] = value.split('/');
  if (rest.length || !address) return false;
  const family = isIP(address);
  if (!family) return false;
  if (bits === undefined) return true;
  if (!/^\d{1,3}$/.test(bits)) return false;
  return Number(bits) <= (family === 4 ? 32 : 128);
}

const urlString = z.url({ error: 'must be a URL such as https://host:port' });

/** Request headers the API reads from browsers; always allowed cross-origin. */
const API_REQUEST_HEADERS = ['content-type', 'authorization', 'x-api-key', 'trpc-accept', 'last-event-id'];

const envSchema = z.object({
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  HOST: z.string().min(1).default('127.0.0.1'),
  PORT: int(0, 65535).default(3000),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** Readable log lines (pino-pretty) outside production: `1`/`true` or `0`/`false`; unset: on a terminal. */
  LOG_PRETTY: z.enum(['1', '0', 'true', 'false']).optional(),
  /** Which parts this process runs: the HTTP host, the job workers, or both. */
  PROCESS_ROLE: z.enum(['all', 'web', 'worker']).default('all'),

  DATABASE_URL: z
    .string()
    .trim()
    .optional()
    .transform((v) => (v ? v : undefined))
    .pipe(
      z
        .string()
        .regex(/^postgres(ql)?:\/\//, { error: 'must start with postgres:// or postgresql://' })
        .optional(),
    ),
  DATABASE_POOL_MAX: int(2, 100).default(10),
  /** 'auto' turns prepared statements off for Supabase's transaction pooler (port 6543). */
  DATABASE_PREPARE: z.enum(['auto', 'true', 'false']).default('auto'),
  DATA_DIR: z.string().min(1).default('.data'),

  CORS_ORIGINS: z
    .string()
    .default('')
    .transform((v) =>
      v
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean),
    )
    .pipe(z.array(z.union([z.literal('*'), urlString]))),
  /**
   * Request headers browser code may send cross-origin, besides the ones the API itself reads
   * (content-type, authorization, trpc-accept, last-event-id): comma-separated header names.
   */
  CORS_ALLOWED_HEADERS: z
    .string()
    .default('traceparent,tracestate,x-request-id,baggage')
    .transform((v) =>
      v
        .split(',')
        .map((s) => s.trim().toLowerCase())
        .filter(Boolean),
    )
    .pipe(z.array(z.string().regex(/^[a-z0-9!#$%&'*+.^_`|~-]+$/, { error: 'must be header names' }))),
  BODY_LIMIT_BYTES: int(1024, 50 * 1024 * 1024).default(1024 * 1024),
  WEBHOOK_BODY_LIMIT_BYTES: int(1024, 50 * 1024 * 1024).default(5 * 1024 * 1024),
  TRPC_MAX_BATCH_SIZE: int(1, 1000).default(20),
  REQUEST_TIMEOUT_MS: int(1000, 600_000).default(30_000),
  SHUTDOWN_TIMEOUT_MS: int(100, 600_000).default(15_000),
  /** Requests per minute per API key (or per IP without a key) on /trpc; 0 turns the limit off. */
  RATE_LIMIT_PER_MINUTE: int(0, 1_000_000).default(600),
  /** Proxies in front of the server whose X-Forwarded-For names the client (rate limits per client IP). */
  TRUST_PROXY: trustProxy,
  /** Requests per minute per IP on /webhook (the gateway posts from few addresses). */
  WEBHOOK_RATE_LIMIT_PER_MINUTE: int(0, 1_000_000).default(6000),
  /** The Supabase project URL: staff sign-in tokens are checked against its JWKS and issuer. */
  SUPABASE_URL: urlString.optional(),
  /** Supabase's legacy JWT secret: staff sign-in tokens signed with HS256 (and `npm run staff:token`). */
  SUPABASE_JWT_SECRET: optionalSecret,
  /** Least time between two JWKS fetches caused by a token signed with an unknown key. */
  SUPABASE_JWKS_COOLDOWN_SECONDS: int(0, 3600).default(30),
  /** Print a new admin key on a first start with no key in the database. */
  BOOTSTRAP_ADMIN_KEY: bool.default(true),

  PERSONA_PATH: z.string().min(1).default('persona.json'),
  DEFAULT_REGION: z
    .string()
    .regex(/^[A-Z]{2}$/, { error: 'must be a two-letter country code such as US or IN' })
    .default('US'),

  OPENAI_API_KEY: optionalSecret,
  OPENAI_BASE_URL: urlString.optional(),
  OPENAI_MODEL: z.string().min(1).optional(),
  OPENAI_TIMEOUT_MS: int(1000, 300_000).default(30_000),
  /** Embeddings of the knowledge base (same endpoint and key as replies). */
  OPENAI_EMBEDDING_MODEL: z.string().trim().min(1).default('text-embedding-3-small'),
  /** Ask the embeddings endpoint for vectors of this length (models that support `dimensions`). */
  OPENAI_EMBEDDING_DIMENSIONS: int(1, 16_000).optional(),
  /** Longest knowledge passage in characters; longer sections are split. */
  KNOWLEDGE_PASSAGE_MAX_CHARS: int(200, 8000).default(1200),
  /** Passages given to the model with each reply, at most. */
  KNOWLEDGE_TOP_K: int(0, 20).default(4),
  /** Tokens of the reply prompt the knowledge passages may take, at most. */
  KNOWLEDGE_PROMPT_TOKENS: int(0, 50_000).default(1200),
  /** A passage is relevant when its cosine similarity to the question reaches this (vector retrieval). */
  KNOWLEDGE_MIN_SIMILARITY: z.coerce.number({ error: 'must be a number' }).min(-1).max(1).default(0.3),
  /** ...or when this share of the question's words (stemmed, stop words left out) occurs in it. */
  KNOWLEDGE_MIN_LEXICAL: z.coerce.number({ error: 'must be a number' }).min(0).max(1).default(0.5),

  /** Speech to text of voice notes (same endpoint and key as replies). */
  OPENAI_TRANSCRIPTION_MODEL: z.string().trim().min(1).default('whisper-1'),

  /** Largest media file downloaded from customers or sent by agents; larger ones are refused. */
  MEDIA_MAX_BYTES: int(1024, 100 * 1024 * 1024).default(16 * 1024 * 1024),
  /** Largest file an agent may send through `conversations.sendMedia` (base64 in the request). */
  MEDIA_SEND_MAX_BYTES: int(1024, 16 * 1024 * 1024).default(5 * 1024 * 1024),
  /** Folder of stored media when no bucket is configured (default: DATA_DIR/media). */
  MEDIA_DIR: z.string().trim().min(1).optional(),
  /** An S3-compatible bucket (Supabase Storage's S3 endpoint) for media; all five set, or none. */
  MEDIA_S3_ENDPOINT: urlString.optional(),
  MEDIA_S3_BUCKET: z.string().trim().min(1).optional(),
  MEDIA_S3_REGION: z.string().trim().min(1).optional(),
  MEDIA_S3_ACCESS_KEY_ID: optionalSecret,
  MEDIA_S3_SECRET_ACCESS_KEY: optionalSecret,
  /** Key of the signed media links (HMAC); unset: a random key kept in DATA_DIR. */
  MEDIA_SIGNING_SECRET: optionalSecret,
  /** Lifetime of a signed media link, for dashboards and for the gateway fetching an outbound file. */
  MEDIA_URL_TTL_SECONDS: int(1, 7 * 24 * 3600).default(900),
  /** The server's public address (https://bot.example.com): the gateway fetches outbound media from it. */
  PUBLIC_BASE_URL: urlString.optional(),

  WASENDER_API_TOKEN: optionalSecret,
  WASENDER_BASE_URL: urlString.default('https://www.wasenderapi.com'),
  WASENDER_WEBHOOK_SECRET: optionalSecret,
  WASENDER_TIMEOUT_MS: int(1000, 120_000).default(15_000),
  /** Development only: accept webhooks without a signature when no secret is configured. */
  WEBHOOK_ALLOW_UNSIGNED: bool.default(false),

  /** Which gateway sends: WaSender (default) or Meta's WhatsApp Cloud API. */
  GATEWAY: z.enum(['wasender', 'whatsapp-cloud']).default('wasender'),
  WHATSAPP_CLOUD_PHONE_NUMBER_ID: z
    .string()
    .trim()
    .regex(/^\d{1,40}$/, { error: 'must be the numeric phone number id from the Meta app' })
    .optional(),
  WHATSAPP_CLOUD_WABA_ID: z
    .string()
    .trim()
    .regex(/^\d{1,40}$/, { error: 'must be the numeric WhatsApp Business Account id' })
    .optional(),
  WHATSAPP_CLOUD_ACCESS_TOKEN: optionalSecret,
  WHATSAPP_CLOUD_APP_SECRET: optionalSecret,
  WHATSAPP_CLOUD_VERIFY_TOKEN: optionalSecret,
  WHATSAPP_CLOUD_API_VERSION: z
    .string()
    .trim()
    .regex(/^v\d{1,3}\.\d{1,3}$/, { error: 'must look like v21.0' })
    .default('v21.0'),
  WHATSAPP_CLOUD_BASE_URL: urlString.default('https://graph.facebook.com'),

  /** Quiet time after a customer's latest message before the bot answers the burst. */
  REPLY_QUIET_MS: int(0, 600_000).default(3000),
  /** Minutes of silence from a human owner after which the bot takes the conversation back. */
  HUMAN_QUIET_MINUTES: int(0, 60 * 24 * 30).default(30),
  /** How handed-off conversations get a person: none (unassigned) or round_robin among available staff. */
  ROUTING: z.enum(['none', 'round_robin']).default('none'),
  /** Round-robin skips people with this many open or pending conversations assigned. */
  ROUTING_MAX_OPEN_PER_AGENT: int(1, 10_000).default(10),
  /** all: agents see every conversation; assigned: only theirs and unassigned ones. */
  AGENT_VISIBILITY: z.enum(['all', 'assigned']).default('all'),
  /** A customer waiting longer than this for a person counts as over the SLA on the dashboard. */
  HUMAN_SLA_MINUTES: int(1, 60 * 24 * 30).default(15),
  /** Minutes a conversation stays quiet before the model assesses the lead (0: no assessments). */
  LEAD_QUALIFY_QUIET_MINUTES: z.coerce
    .number({ error: 'must be a number' })
    .min(0, { error: 'must be at least 0' })
    .max(60 * 24 * 7, { error: 'must be at most 10080' })
    .default(30),
  /** An assessment scoring at least this gets a sales task (one open per contact; 101: never). */
  LEAD_QUALIFY_TASK_SCORE: int(0, 101).default(70),
  /** Model of the assessments (unset: the reply model). */
  LEAD_QUALIFY_MODEL: z.string().trim().min(1).max(100).optional(),
  /** Seconds a stored lead score waits for more changes before it is recomputed. */
  LEAD_RESCORE_DELAY_SECONDS: int(0, 3600).default(10),
  /** The business's name, for canned responses' {{business_name}}. */
  BUSINESS_NAME: z.string().trim().min(1).max(200).optional(),
  HISTORY_MAX_MESSAGES: int(1, 500).default(30),
  HISTORY_TOKEN_BUDGET: int(100, 200_000).default(4000),
  /** Global gateway throttle shared by replies and campaigns (600,000 a minute is 10,000 a second). */
  SEND_RATE_PER_MINUTE: int(1, 600_000).default(60),
  AI_MAX_ATTEMPTS: int(1, 10).default(3),
  /** Conversations one process answers at the same time (model calls wait on the network, not the CPU). */
  REPLY_CONCURRENCY: int(1, 256).default(32),
  /** Gateway sends one process makes at the same time (each waits for its throttle slot and the gateway). */
  SEND_CONCURRENCY: int(1, 256).default(16),
  /** A job running longer than this is taken as lost (its process died) and is retried. */
  REPLY_JOB_TIMEOUT_SECONDS: int(5, 3600).default(120),
  SEND_JOB_TIMEOUT_SECONDS: int(2, 3600).default(60),
  /** Longest wait a gateway's 429 `retry_after` may impose before sends are tried again. */
  GATEWAY_RETRY_AFTER_MAX_SECONDS: int(1, 86_400).default(300),
  /** How often the job queue looks for lost jobs. */
  JOB_MAINTENANCE_SECONDS: int(1, 3600).default(15),
  SEND_MAX_ATTEMPTS: int(1, 20).default(5),

  /** Campaign pace when a campaign does not set its own (messages per minute, on average). */
  CAMPAIGN_DEFAULT_RATE_PER_MINUTE: int(1, 6000).default(20),
  /** Random spread of the gaps between a campaign's sends, in percent of the average gap. */
  CAMPAIGN_JITTER_PERCENT: int(0, 100).default(20),
  /** Auto-pause: a campaign pauses when this percent of its last CAMPAIGN_FAILURE_WINDOW sends failed. */
  CAMPAIGN_FAILURE_WINDOW: int(2, 1000).default(20),
  CAMPAIGN_FAILURE_THRESHOLD_PERCENT: int(1, 100).default(50),
  /** Tries per recipient when the gateway answers with an error that means nothing was sent (5xx). */
  CAMPAIGN_MAX_ATTEMPTS: int(1, 10).default(3),
  /** Campaigns one worker process dispatches at the same time. */
  CAMPAIGN_CONCURRENCY: int(1, 64).default(4),
  /** A dispatcher's hold on a campaign lasts this long without renewal: the takeover time after a crash. */
  CAMPAIGN_LEASE_SECONDS: int(2, 600).default(30),
  /** How long one dispatch job runs before handing over to the next job of its chain. */
  CAMPAIGN_SLICE_SECONDS: int(1, 3600).default(60),
  /** How often workers look for due scheduled campaigns and campaigns left without a dispatcher. */
  CAMPAIGN_SWEEP_SECONDS: int(1, 3600).default(15),
  CAMPAIGN_MAX_RECIPIENTS: int(1, 1_000_000).default(50_000),

  /** Outbound webhooks: allow destinations on private, loopback or link-local addresses (development, tests). */
  OUTBOUND_WEBHOOKS_ALLOW_PRIVATE: bool.default(false),
  OUTBOUND_WEBHOOKS_TIMEOUT_MS: int(100, 60_000).default(10_000),
  /** Waits before each retry of a failed delivery, in seconds (the Standard Webhooks schedule: about 27 hours). */
  OUTBOUND_WEBHOOKS_RETRY_SECONDS: z
    .string()
    .default('5,300,1800,7200,18000,36000,36000')
    .transform((v) =>
      v
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean)
        .map(Number),
    )
    .pipe(
      z
        .array(
          z
            .number()
            .int()
            .min(0)
            .max(7 * 86_400),
          { error: 'must be comma-separated whole seconds' },
        )
        .max(20),
    ),
  /** A subscription whose deliveries all failed for this long, through a delivery's last retry, is disabled. */
  OUTBOUND_WEBHOOKS_DISABLE_AFTER_SECONDS: int(0, 30 * 86_400).default(86_400),
  /** How often workers look for new events to deliver (on Postgres a notification wakes them sooner). */
  OUTBOUND_WEBHOOKS_POLL_MS: int(20, 60_000).default(1000),
  OUTBOUND_WEBHOOKS_CONCURRENCY: int(1, 256).default(8),
});

export type Env = z.input<typeof envSchema>;

export interface Config {
  env: 'development' | 'production' | 'test';
  host: string;
  port: number;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  /** LOG_PRETTY as given (see server/log.ts wantsPrettyLogs). */
  logPretty: string | undefined;
  role: 'all' | 'web' | 'worker';
  database: {
    url: string | undefined;
    poolMax: number;
    prepare: boolean;
    /** Folder of the embedded database, or 'memory://' for a throwaway one. */
    dataDir: string;
  };
  http: {
    corsOrigins: string[];
    /** Every request header a cross-origin browser request may carry (the API's own ones included). */
    corsAllowedHeaders: string[];
    bodyLimit: number;
    webhookBodyLimit: number;
    maxBatchSize: number;
    requestTimeoutMs: number;
    shutdownTimeoutMs: number;
    rateLimitPerMinute: number;
    webhookRateLimitPerMinute: number;
    /** Fastify's trustProxy: which proxies' X-Forwarded-For to believe. */
    trustProxy: boolean | number | string[];
  };
  bootstrapAdminKey: boolean;
  /** Staff sign-in with Supabase Auth; both unset: sign-in tokens are refused (API keys only). */
  signIn: {
    supabaseUrl: string | undefined;
    jwtSecret: string | undefined;
    jwksCooldownMs: number;
  };
  personaPath: string;
  defaultRegion: string;
  openai: {
    apiKey: string | undefined;
    baseUrl: string | undefined;
    model: string | undefined;
    timeoutMs: number;
    embeddingModel: string;
    embeddingDimensions: number | undefined;
  };
  knowledge: {
    passageMaxChars: number;
    topK: number;
    promptTokens: number;
    minSimilarity: number;
    minLexical: number;
  };
  media: {
    maxBytes: number;
    sendMaxBytes: number;
    dir: string;
    s3: {
      endpoint: string;
      bucket: string;
      region: string;
      accessKeyId: string;
      secretAccessKey: string;
    } | null;
    signingSecret: string | undefined;
    urlTtlSeconds: number;
    publicBaseUrl: string | undefined;
    transcriptionModel: string;
  };
  wasender: {
    apiToken: string | undefined;
    baseUrl: string;
    webhookSecret: string | undefined;
    timeoutMs: number;
    allowUnsigned: boolean;
  };
  /** The gateway that sends (GATEWAY). */
  gateway: 'wasender' | 'whatsapp-cloud';
  /** Meta's WhatsApp Cloud API (used when `gateway` is `whatsapp-cloud`; its webhook is served either way). */
  whatsappCloud: {
    phoneNumberId: string | undefined;
    wabaId: string | undefined;
    accessToken: string | undefined;
    appSecret: string | undefined;
    verifyToken: string | undefined;
    apiVersion: string;
    baseUrl: string;
  };
  /** Lead qualification by the model and the always-current lead score. */
  leads: {
    /** 0: no assessments. */
    qualifyQuietMs: number;
    qualifyTaskScore: number;
    qualifyModel: string | undefined;
    rescoreDelayMs: number;
  };
  /** The team inbox: who sees what, SLA, and canned responses' business name. */
  inbox: {
    agentVisibility: 'all' | 'assigned';
    humanSlaMinutes: number;
    businessName: string | undefined;
  };
  pipeline: {
    replyQuietMs: number;
    humanQuietMinutes: number;
    /** Handoff routing (see server/conversation/inbox.ts). */
    routing: 'none' | 'round_robin';
    routingMaxOpenPerAgent: number;
    historyMaxMessages: number;
    historyTokenBudget: number;
    sendRatePerMinute: number;
    aiMaxAttempts: number;
    replyConcurrency: number;
    sendConcurrency: number;
    sendMaxAttempts: number;
    replyJobTimeoutSeconds: number;
    sendJobTimeoutSeconds: number;
    /** Cap of a 429's retry time, and the gateway client's request timeout (a send's longest call). */
    gatewayRetryAfterMaxSeconds: number;
    gatewayTimeoutMs: number;
  };
  jobMaintenanceSeconds: number;
  outboundWebhooks: {
    allowPrivate: boolean;
    timeoutMs: number;
    retrySeconds: number[];
    disableAfterSeconds: number;
    pollMs: number;
    concurrency: number;
  };
  campaigns: {
    defaultRatePerMinute: number;
    jitterPercent: number;
    failureWindow: number;
    failureThresholdPercent: number;
    maxAttempts: number;
    concurrency: number;
    leaseSeconds: number;
    sliceSeconds: number;
    sweepSeconds: number;
    maxRecipients: number;
  };
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

function prepareFor(url: string | undefined, setting: 'auto' | 'true' | 'false'): boolean {
  if (setting !== 'auto') return setting === 'true';
  if (!url) return true;
  try {
    return new URL(url).port !== '6543';
  } catch {
    return true;
  }
}

/** Validates the environment; throws a ConfigError naming every bad variable. */
export function loadConfig(source: Record<string, string | undefined> = readProcessEnv()): Config {
  const parsed = envSchema.safeParse(source);
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.map((i) => `${i.path.join('.') || '(environment)'}: ${i.message}`),
    );
  }
  const e = parsed.data;
  const problems: string[] = [];
  if (e.NODE_ENV === 'production' && e.WEBHOOK_ALLOW_UNSIGNED) {
    problems.push('WEBHOOK_ALLOW_UNSIGNED: must not be true when NODE_ENV is production');
  }
  const s3Vars = {
    MEDIA_S3_ENDPOINT: e.MEDIA_S3_ENDPOINT,
    MEDIA_S3_BUCKET: e.MEDIA_S3_BUCKET,
    MEDIA_S3_REGION: e.MEDIA_S3_REGION,
    MEDIA_S3_ACCESS_KEY_ID: e.MEDIA_S3_ACCESS_KEY_ID,
    MEDIA_S3_SECRET_ACCESS_KEY: e.MEDIA_S3_SECRET_ACCESS_KEY,
  };
  const s3Set = Object.entries(s3Vars).filter(([, v]) => v !== undefined);
  if (s3Set.length > 0 && s3Set.length < 5) {
    const missing = Object.entries(s3Vars)
      .filter(([, v]) => v === undefined)
      .map(([k]) => k);
    problems.push(`MEDIA_S3_*: set all five or none (missing ${missing.join(', ')})`);
  }
  if (problems.length) throw new ConfigError(problems);
  const dataDir = e.DATA_DIR === 'memory://' ? e.DATA_DIR : path.resolve(e.DATA_DIR);
  return {
    env: e.NODE_ENV,
    host: e.HOST,
    port: e.PORT,
    logLevel: e.LOG_LEVEL,
    logPretty: e.LOG_PRETTY,
    role: e.PROCESS_ROLE,
    database: {
      url: e.DATABASE_URL,
      poolMax: e.DATABASE_POOL_MAX,
      prepare: prepareFor(e.DATABASE_URL, e.DATABASE_PREPARE),
      dataDir: e.DATA_DIR === 'memory://' ? e.DATA_DIR : path.resolve(e.DATA_DIR),
    },
    http: {
      corsOrigins: e.CORS_ORIGINS,
      corsAllowedHeaders: [...new Set([...API_REQUEST_HEADERS, ...e.CORS_ALLOWED_HEADERS])],
      bodyLimit: e.BODY_LIMIT_BYTES,
      webhookBodyLimit: e.WEBHOOK_BODY_LIMIT_BYTES,
      maxBatchSize: e.TRPC_MAX_BATCH_SIZE,
      requestTimeoutMs: e.REQUEST_TIMEOUT_MS,
      shutdownTimeoutMs: e.SHUTDOWN_TIMEOUT_MS,
      rateLimitPerMinute: e.RATE_LIMIT_PER_MINUTE,
      webhookRateLimitPerMinute: e.WEBHOOK_RATE_LIMIT_PER_MINUTE,
      trustProxy: e.TRUST_PROXY,
    },
    bootstrapAdminKey: e.BOOTSTRAP_ADMIN_KEY,
    signIn: {
      supabaseUrl: e.SUPABASE_URL?.replace(/\/+$/, ''),
      jwtSecret: e.SUPABASE_JWT_SECRET,
      jwksCooldownMs: e.SUPABASE_JWKS_COOLDOWN_SECONDS * 1000,
    },
    personaPath: path.resolve(e.PERSONA_PATH),
    defaultRegion: e.DEFAULT_REGION,
    openai: {
      apiKey: e.OPENAI_API_KEY,
      baseUrl: e.OPENAI_BASE_URL,
      model: e.OPENAI_MODEL,
      timeoutMs: e.OPENAI_TIMEOUT_MS,
      embeddingModel: e.OPENAI_EMBEDDING_MODEL,
      embeddingDimensions: e.OPENAI_EMBEDDING_DIMENSIONS,
    },
    knowledge: {
      passageMaxChars: e.KNOWLEDGE_PASSAGE_MAX_CHARS,
      topK: e.KNOWLEDGE_TOP_K,
      promptTokens: e.KNOWLEDGE_PROMPT_TOKENS,
      minSimilarity: e.KNOWLEDGE_MIN_SIMILARITY,
      minLexical: e.KNOWLEDGE_MIN_LEXICAL,
    },
    media: {
      maxBytes: e.MEDIA_MAX_BYTES,
      sendMaxBytes: e.MEDIA_SEND_MAX_BYTES,
      dir: e.MEDIA_DIR
        ? path.resolve(e.MEDIA_DIR)
        : dataDir === 'memory://'
          ? path.resolve('data', 'media')
          : path.join(dataDir, 'media'),
      s3:
        s3Set.length === 5
          ? {
              endpoint: e.MEDIA_S3_ENDPOINT!.replace(/\/+$/, ''),
              bucket: e.MEDIA_S3_BUCKET!,
              region: e.MEDIA_S3_REGION!,
              accessKeyId: e.MEDIA_S3_ACCESS_KEY_ID!,
              secretAccessKey: e.MEDIA_S3_SECRET_ACCESS_KEY!,
            }
          : null,
      signingSecret: e.MEDIA_SIGNING_SECRET,
      urlTtlSeconds: e.MEDIA_URL_TTL_SECONDS,
      publicBaseUrl: e.PUBLIC_BASE_URL?.replace(/\/+$/, ''),
      transcriptionModel: e.OPENAI_TRANSCRIPTION_MODEL,
    },
    wasender: {
      apiToken: e.WASENDER_API_TOKEN,
      baseUrl: e.WASENDER_BASE_URL.replace(/\/+$/, ''),
      webhookSecret: e.WASENDER_WEBHOOK_SECRET,
      timeoutMs: e.WASENDER_TIMEOUT_MS,
      allowUnsigned: e.WEBHOOK_ALLOW_UNSIGNED,
    },
    gateway: e.GATEWAY,
    whatsappCloud: {
      phoneNumberId: e.WHATSAPP_CLOUD_PHONE_NUMBER_ID,
      wabaId: e.WHATSAPP_CLOUD_WABA_ID,
      accessToken: e.WHATSAPP_CLOUD_ACCESS_TOKEN,
      appSecret: e.WHATSAPP_CLOUD_APP_SECRET,
      verifyToken: e.WHATSAPP_CLOUD_VERIFY_TOKEN,
      apiVersion: e.WHATSAPP_CLOUD_API_VERSION,
      baseUrl: e.WHATSAPP_CLOUD_BASE_URL.replace(/\/+$/, ''),
    },
    leads: {
      qualifyQuietMs: Math.round(e.LEAD_QUALIFY_QUIET_MINUTES * 60_000),
      qualifyTaskScore: e.LEAD_QUALIFY_TASK_SCORE,
      qualifyModel: e.LEAD_QUALIFY_MODEL,
      rescoreDelayMs: e.LEAD_RESCORE_DELAY_SECONDS * 1000,
    },
    inbox: {
      agentVisibility: e.AGENT_VISIBILITY,
      humanSlaMinutes: e.HUMAN_SLA_MINUTES,
      businessName: e.BUSINESS_NAME,
    },
    pipeline: {
      replyQuietMs: e.REPLY_QUIET_MS,
      humanQuietMinutes: e.HUMAN_QUIET_MINUTES,
      routing: e.ROUTING,
      routingMaxOpenPerAgent: e.ROUTING_MAX_OPEN_PER_AGENT,
      historyMaxMessages: e.HISTORY_MAX_MESSAGES,
      historyTokenBudget: e.HISTORY_TOKEN_BUDGET,
      sendRatePerMinute: e.SEND_RATE_PER_MINUTE,
      aiMaxAttempts: e.AI_MAX_ATTEMPTS,
      replyConcurrency: e.REPLY_CONCURRENCY,
      sendConcurrency: e.SEND_CONCURRENCY,
      sendMaxAttempts: e.SEND_MAX_ATTEMPTS,
      replyJobTimeoutSeconds: e.REPLY_JOB_TIMEOUT_SECONDS,
      sendJobTimeoutSeconds: e.SEND_JOB_TIMEOUT_SECONDS,
      gatewayRetryAfterMaxSeconds: e.GATEWAY_RETRY_AFTER_MAX_SECONDS,
      gatewayTimeoutMs: e.WASENDER_TIMEOUT_MS,
    },
    jobMaintenanceSeconds: e.JOB_MAINTENANCE_SECONDS,
    outboundWebhooks: {
      allowPrivate: e.OUTBOUND_WEBHOOKS_ALLOW_PRIVATE,
      timeoutMs: e.OUTBOUND_WEBHOOKS_TIMEOUT_MS,
      retrySeconds: e.OUTBOUND_WEBHOOKS_RETRY_SECONDS,
      disableAfterSeconds: e.OUTBOUND_WEBHOOKS_DISABLE_AFTER_SECONDS,
      pollMs: e.OUTBOUND_WEBHOOKS_POLL_MS,
      concurrency: e.OUTBOUND_WEBHOOKS_CONCURRENCY,
    },
    campaigns: {
      defaultRatePerMinute: e.CAMPAIGN_DEFAULT_RATE_PER_MINUTE,
      jitterPercent: e.CAMPAIGN_JITTER_PERCENT,
      failureWindow: e.CAMPAIGN_FAILURE_WINDOW,
      failureThresholdPercent: e.CAMPAIGN_FAILURE_THRESHOLD_PERCENT,
      maxAttempts: e.CAMPAIGN_MAX_ATTEMPTS,
      concurrency: e.CAMPAIGN_CONCURRENCY,
      leaseSeconds: e.CAMPAIGN_LEASE_SECONDS,
      sliceSeconds: e.CAMPAIGN_SLICE_SECONDS,
      sweepSeconds: e.CAMPAIGN_SWEEP_SECONDS,
      maxRecipients: e.CAMPAIGN_MAX_RECIPIENTS,
    },
  };
}

/** process.env, with a .env file in the working directory loaded first when present. */
function readProcessEnv(): Record<string, string | undefined> {
  const file = path.resolve('.env');
  if (existsSync(file)) process.loadEnvFile(file);
  return process.env;
}

/** Secrets the logger and error paths must never print. */
export function secretsOf(config: Config): string[] {
  return [
    config.openai.apiKey,
    config.wasender.apiToken,
    config.wasender.webhookSecret,
    config.whatsappCloud.accessToken,
    config.whatsappCloud.appSecret,
    config.whatsappCloud.verifyToken,
    config.signIn.jwtSecret,
    config.media.s3?.accessKeyId,
    config.media.s3?.secretAccessKey,
    config.media.signingSecret,
  ].filter((s): s is string => typeof s === 'string' && s.length > 0);
}
