import { existsSync } from 'node:fs';
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

const urlString = z.url({ error: 'must be a URL such as https://host:port' });

const envSchema = z.object({
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  HOST: z.string().min(1).default('127.0.0.1'),
  PORT: int(0, 65535).default(3000),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
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
  BODY_LIMIT_BYTES: int(1024, 50 * 1024 * 1024).default(1024 * 1024),
  WEBHOOK_BODY_LIMIT_BYTES: int(1024, 50 * 1024 * 1024).default(5 * 1024 * 1024),
  TRPC_MAX_BATCH_SIZE: int(1, 1000).default(20),
  REQUEST_TIMEOUT_MS: int(1000, 600_000).default(30_000),
  SHUTDOWN_TIMEOUT_MS: int(100, 600_000).default(15_000),
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

  WASENDER_API_TOKEN: optionalSecret,
  WASENDER_BASE_URL: urlString.default('https://www.wasenderapi.com'),
  WASENDER_WEBHOOK_SECRET: optionalSecret,
  WASENDER_TIMEOUT_MS: int(1000, 120_000).default(15_000),
  /** Development only: accept webhooks without a signature when no secret is configured. */
  WEBHOOK_ALLOW_UNSIGNED: bool.default(false),

  /** Quiet time after a customer's latest message before the bot answers the burst. */
  REPLY_QUIET_MS: int(0, 600_000).default(3000),
  /** Minutes of silence from a human owner after which the bot takes the conversation back. */
  HUMAN_QUIET_MINUTES: int(0, 60 * 24 * 30).default(30),
  HISTORY_MAX_MESSAGES: int(1, 500).default(30),
  HISTORY_TOKEN_BUDGET: int(100, 200_000).default(4000),
  /** Global gateway throttle shared by replies and campaigns. */
  SEND_RATE_PER_MINUTE: int(1, 6000).default(60),
  AI_MAX_ATTEMPTS: int(1, 10).default(3),
  SEND_MAX_ATTEMPTS: int(1, 20).default(5),
});

export type Env = z.input<typeof envSchema>;

export interface Config {
  env: 'development' | 'production' | 'test';
  host: string;
  port: number;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
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
    bodyLimit: number;
    webhookBodyLimit: number;
    maxBatchSize: number;
    requestTimeoutMs: number;
    shutdownTimeoutMs: number;
  };
  bootstrapAdminKey: boolean;
  personaPath: string;
  defaultRegion: string;
  openai: {
    apiKey: string | undefined;
    baseUrl: string | undefined;
    model: string | undefined;
    timeoutMs: number;
  };
  wasender: {
    apiToken: string | undefined;
    baseUrl: string;
    webhookSecret: string | undefined;
    timeoutMs: number;
    allowUnsigned: boolean;
  };
  pipeline: {
    replyQuietMs: number;
    humanQuietMinutes: number;
    historyMaxMessages: number;
    historyTokenBudget: number;
    sendRatePerMinute: number;
    aiMaxAttempts: number;
    sendMaxAttempts: number;
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
  if (problems.length) throw new ConfigError(problems);
  return {
    env: e.NODE_ENV,
    host: e.HOST,
    port: e.PORT,
    logLevel: e.LOG_LEVEL,
    role: e.PROCESS_ROLE,
    database: {
      url: e.DATABASE_URL,
      poolMax: e.DATABASE_POOL_MAX,
      prepare: prepareFor(e.DATABASE_URL, e.DATABASE_PREPARE),
      dataDir: e.DATA_DIR === 'memory://' ? e.DATA_DIR : path.resolve(e.DATA_DIR),
    },
    http: {
      corsOrigins: e.CORS_ORIGINS,
      bodyLimit: e.BODY_LIMIT_BYTES,
      webhookBodyLimit: e.WEBHOOK_BODY_LIMIT_BYTES,
      maxBatchSize: e.TRPC_MAX_BATCH_SIZE,
      requestTimeoutMs: e.REQUEST_TIMEOUT_MS,
      shutdownTimeoutMs: e.SHUTDOWN_TIMEOUT_MS,
    },
    bootstrapAdminKey: e.BOOTSTRAP_ADMIN_KEY,
    personaPath: path.resolve(e.PERSONA_PATH),
    defaultRegion: e.DEFAULT_REGION,
    openai: {
      apiKey: e.OPENAI_API_KEY,
      baseUrl: e.OPENAI_BASE_URL,
      model: e.OPENAI_MODEL,
      timeoutMs: e.OPENAI_TIMEOUT_MS,
    },
    wasender: {
      apiToken: e.WASENDER_API_TOKEN,
      baseUrl: e.WASENDER_BASE_URL.replace(/\/+$/, ''),
      webhookSecret: e.WASENDER_WEBHOOK_SECRET,
      timeoutMs: e.WASENDER_TIMEOUT_MS,
      allowUnsigned: e.WEBHOOK_ALLOW_UNSIGNED,
    },
    pipeline: {
      replyQuietMs: e.REPLY_QUIET_MS,
      humanQuietMinutes: e.HUMAN_QUIET_MINUTES,
      historyMaxMessages: e.HISTORY_MAX_MESSAGES,
      historyTokenBudget: e.HISTORY_TOKEN_BUDGET,
      sendRatePerMinute: e.SEND_RATE_PER_MINUTE,
      aiMaxAttempts: e.AI_MAX_ATTEMPTS,
      sendMaxAttempts: e.SEND_MAX_ATTEMPTS,
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
  return [config.openai.apiKey, config.wasender.apiToken, config.wasender.webhookSecret].filter(
    (s): s is string => typeof s === 'string' && s.length > 0,
  );
}
