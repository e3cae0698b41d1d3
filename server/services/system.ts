import type { Config } from '../config';
import type { TSystemStatus } from '../contracts';
import type { SendQueueStatus } from '../conversation/deps';
import type { Database } from '../db/client';
import { countOpenDeadLetters } from '../db/queries/dead-letters';
import * as systemQueries from '../db/queries/system';
import { subscriptionHealth } from '../db/queries/webhooks';
import type { Gateway, GatewayStatus } from '../integrations/gateway';
import { createOpenAICheck } from '../integrations/openai-check';
import type { JobQueue } from '../jobs/queue';
import type { Knowledge } from '../knowledge';
import type { Persona } from '../persona';
import { sendQueueStatus } from '../pipeline/send';

export interface SystemProbe {
  databaseMode: 'embedded' | 'postgres';
  pingDatabase(): Promise<boolean>;
  pingQueue(): Promise<boolean>;
  /** Jobs waiting in the queue and the age of the oldest that may run now. */
  queueBacklog(): Promise<{ depth: number; oldestWaitingSeconds: number | null }>;
  /** The latest WhatsApp session status the gateway's webhook reported, if any. */
  sessionStatus(): Promise<{ status: string; at: Date } | null>;
  /** Dead letters not yet resolved or dismissed (see server/services/dead-letters.ts). */
  openDeadLetters(): Promise<number>;
  /** Outbound webhook subscriptions disabled after sustained failure, and active ones failing now. */
  outboundWebhooks(): Promise<{ disabled: number; failing: number }>;
  /** Whether the send queue moves (see server/pipeline/send.ts `sendQueueStatus`); reason null when it does. */
  sendQueue(): Promise<SendQueueStatus>;
  /** The knowledge base's retrieval mode and document counts (see server/knowledge). */
  knowledge(): Promise<TSystemStatus['knowledge']>;
  /** The gateway's live session status; null when the gateway cannot report it or is not configured. */
  gatewayStatus?: ((opts: { signal: AbortSignal }) => Promise<GatewayStatus>) | null;
  /** A cheap live call to OpenAI (listing models); null when no key is configured. */
  checkOpenAI: (() => Promise<{ ok: boolean; detail: string }>) | null;
}

/** The probe of a running server: its database, job queue, send queue and OpenAI. */
export function systemProbe(deps: {
  database: Pick<Database, 'db' | 'sql' | 'mode'>;
  queue: Pick<JobQueue, 'ping'>;
  knowledge: Pick<Knowledge, 'status'>;
  config: Config;
  model: string;
  gateway?: Gateway;
}): SystemProbe {
  const { database, queue, config, gateway } = deps;
  const status = gateway?.configured ? gateway.status?.bind(gateway) : undefined;
  const { db } = database;
  return {
    databaseMode: database.mode,
    pingDatabase: async () => {
      try {
        await database.sql`select 1`;
        return true;
      } catch {
        return false;
      }
    },
    pingQueue: () => queue.ping(),
    queueBacklog: () => systemQueries.queueBacklog(db),
    sendQueue: () => sendQueueStatus(db, config.pipeline),
    openDeadLetters: () => countOpenDeadLetters(db),
    outboundWebhooks: () => subscriptionHealth(db),
    knowledge: () => deps.knowledge.status(),
    sessionStatus: async () => {
      const row = await systemQueries.getSystemState(db, systemQueries.SESSION_STATE_KEY);
      const status = row?.value.status;
      return row && typeof status === 'string' ? { status, at: row.updatedAt } : null;
    },
    gatewayStatus: status ? (opts) => status(opts) : null,
    checkOpenAI: config.openai.apiKey
      ? createOpenAICheck({ apiKey: config.openai.apiKey, baseUrl: config.openai.baseUrl, model: deps.model })
      : null,
  };
}

/** Which integrations the configuration sets up. */
export const integrationFlags = (config: Config): IntegrationFlags => {
  const cloud = config.gateway === 'whatsapp-cloud';
  const c = config.whatsappCloud;
  return {
    openaiKey: Boolean(config.openai.apiKey),
    gateway: config.gateway,
    // The sending gateway's credentials and its webhook's secret (reported under `wasender` and `webhook`).
    wasenderToken: cloud ? Boolean(c.accessToken && c.phoneNumberId) : Boolean(config.wasender.apiToken),
    webhookSecret: cloud ? Boolean(c.appSecret) : Boolean(config.wasender.webhookSecret),
    allowUnsigned: config.wasender.allowUnsigned,
  };
};

export interface IntegrationFlags {
  openaiKey: boolean;
  /** The gateway that sends (GATEWAY). */
  gateway?: 'wasender' | 'whatsapp-cloud';
  wasenderToken: boolean;
  webhookSecret: boolean;
  allowUnsigned: boolean;
}

export interface SystemService {
  /** Live checks of everything: database, queue backlog, OpenAI (cached a minute), gateway session. */
  status(): Promise<TSystemStatus>;
  /** Database and queue reachability only, cheap enough for /ready. */
  ready(): Promise<{ database: boolean; queue: boolean; sendQueue: string | null }>;
  /** What is configured, without touching the database: for /health and the startup log. */
  integrations(): TSystemStatus['integrations'];
}

export const VERSION = '0.1.0';

/**
 * While the database is down the driver keeps a query waiting for a reconnect (with a backoff of up
 * to 20 s) instead of failing it, so an unbounded ping would leave /ready hanging through an outage.
 */
const PROBE_TIMEOUT_MS = 3000;
/** How long the gateway's live status answers for, and how long one check may take. */
export const GATEWAY_STATUS_TTL_MS = 30_000;
const GATEWAY_STATUS_TIMEOUT_MS = 5000;
/** How long an OpenAI check answers for, so the status page does not call OpenAI on every view. */
const OPENAI_CHECK_TTL_MS = 60_000;

/** Runs `check` at most once per `ttlMs`; calls made while one runs share it. */
function cached<T>(check: () => Promise<T>, ttlMs: number): () => Promise<{ value: T; at: Date }> {
  let last: { value: T; at: Date } | null = null;
  let running: Promise<{ value: T; at: Date }> | null = null;
  return () => {
    if (last && Date.now() - last.at.getTime() < ttlMs) return Promise.resolve(last);
    running ??= check()
      .then((value) => {
        last = { value, at: new Date() };
        return last;
      })
      .finally(() => {
        running = null;
      });
    return running;
  };
}

/** Resolves to `fallback` when `p` fails or takes longer than `ms`. */
async function within<T>(p: Promise<T>, ms: number, fallback: T): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<T>((resolve) => {
    timer = setTimeout(() => resolve(fallback), ms);
  });
  try {
    return await Promise.race([p.catch(() => fallback), late]);
  } finally {
    clearTimeout(timer);
  }
}

/** A probe that answers within `ms` (false when it has not); calls made while one runs share it. */
function bounded(ping: () => Promise<boolean>, ms: number): () => Promise<boolean> {
  let running: Promise<boolean> | null = null;
  return () => {
    running ??= ping()
      .catch(() => false)
      .finally(() => {
        running = null;
      });
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), ms);
    });
    return Promise.race([running, late]).finally(() => clearTimeout(timer));
  };
}
const startedAt = Date.now();

export function createSystemService(deps: {
  probe: SystemProbe;
  flags: IntegrationFlags;
  persona: Persona;
  model: string;
  leadQualification?: { enabled: boolean; detail: string };
}): SystemService {
  const { probe, flags, persona, model } = deps;
  const leadQualification = deps.leadQualification ?? { enabled: false, detail: 'not set up' };

  function integrations(): TSystemStatus['integrations'] {
    return {
      openai: flags.openaiKey
        ? { configured: true, detail: `replies with ${model}` }
        : {
            configured: false,
            detail:
              'OPENAI_API_KEY is not set: customers get the persona fallback message and a human is asked',
          },
      wasender:
        flags.gateway === 'whatsapp-cloud'
          ? flags.wasenderToken
            ? { configured: true, detail: "sending through Meta's WhatsApp Cloud API" }
            : {
                configured: false,
                detail:
                  'WHATSAPP_CLOUD_ACCESS_TOKEN or WHATSAPP_CLOUD_PHONE_NUMBER_ID is not set: outbound messages are stored with status not_configured',
              }
          : flags.wasenderToken
            ? { configured: true, detail: 'sending through WaSender' }
            : {
                configured: false,
                detail:
                  'WASENDER_API_TOKEN is not set: outbound messages are stored with status not_configured',
              },
      webhook: flags.webhookSecret
        ? {
            configured: true,
            detail:
              flags.gateway === 'whatsapp-cloud'
                ? 'Cloud API webhook signature (X-Hub-Signature-256) checked'
                : 'webhook signature checked',
          }
        : flags.allowUnsigned
          ? {
              configured: false,
              detail: 'WEBHOOK_ALLOW_UNSIGNED is on: unsigned webhooks are accepted (development only)',
            }
          : {
              configured: false,
              detail:
                flags.gateway === 'whatsapp-cloud'
                  ? 'WHATSAPP_CLOUD_APP_SECRET is not set: /webhook/whatsapp-cloud refuses every post'
                  : 'WASENDER_WEBHOOK_SECRET is not set: /webhook refuses every request',
            },
    };
  }

  const pingDatabase = bounded(() => probe.pingDatabase(), PROBE_TIMEOUT_MS);
  const pingQueue = bounded(() => probe.pingQueue(), PROBE_TIMEOUT_MS);

  const checkOpenAI = probe.checkOpenAI;
  const openaiCheck = checkOpenAI
    ? cached(
        () =>
          within(checkOpenAI(), PROBE_TIMEOUT_MS * 2, {
            ok: false,
            detail: 'OpenAI did not answer in time',
          }),
        OPENAI_CHECK_TTL_MS,
      )
    : null;

  const gatewayStatus = probe.gatewayStatus;
  const gatewayCheck = gatewayStatus
    ? cached(async (): Promise<{ status: GatewayStatus; reason: string | null }> => {
        const signal = AbortSignal.timeout(GATEWAY_STATUS_TIMEOUT_MS);
        try {
          return { status: await gatewayStatus({ signal }), reason: null };
        } catch (err) {
          const reason = signal.aborted
            ? `The gateway did not answer within ${GATEWAY_STATUS_TIMEOUT_MS / 1000} s`
            : err instanceof Error
              ? err.message.slice(0, 300)
              : 'The gateway status check failed';
          return { status: { state: 'unknown', detail: {} }, reason };
        }
      }, GATEWAY_STATUS_TTL_MS)
    : null;

  const sendQueue = () => within<SendQueueStatus | null>(probe.sendQueue(), PROBE_TIMEOUT_MS, null);

  async function ready() {
    const [database, queue, sends] = await Promise.all([pingDatabase(), pingQueue(), sendQueue()]);
    return { database, queue, sendQueue: sends?.reason ?? null };
  }

  return {
    integrations,
    ready,
    async status() {
      const [{ database: db, queue }, backlog, session, openai, deadLetters, live] = await Promise.all([
        Promise.all([pingDatabase(), pingQueue()]).then(([database, queue]) => ({ database, queue })),
        within(probe.queueBacklog(), PROBE_TIMEOUT_MS, null),
        within(probe.sessionStatus(), PROBE_TIMEOUT_MS, null),
        openaiCheck ? openaiCheck() : Promise.resolve(null),
        within<number | null>(probe.openDeadLetters(), PROBE_TIMEOUT_MS, null),
        gatewayCheck ? gatewayCheck() : Promise.resolve(null),
      ]);
      const sends = await sendQueue();
      const hooks = await within<{ disabled: number; failing: number } | null>(
        probe.outboundWebhooks(),
        PROBE_TIMEOUT_MS,
        null,
      );
      const knowledge = await within<TSystemStatus['knowledge'] | null>(
        probe.knowledge(),
        PROBE_TIMEOUT_MS,
        null,
      );
      const i = integrations();
      const ok =
        !sends?.reason &&
        db &&
        queue &&
        i.openai.configured &&
        openai?.value.ok === true &&
        i.wasender.configured &&
        i.webhook.configured &&
        live?.value.status.state !== 'disconnected';
      return {
        status: ok ? 'ok' : 'degraded',
        version: VERSION,
        uptimeSeconds: Math.round((Date.now() - startedAt) / 1000),
        database: { mode: probe.databaseMode, reachable: db },
        queue: {
          reachable: queue,
          depth: backlog?.depth ?? null,
          oldestWaitingSeconds:
            backlog?.oldestWaitingSeconds == null ? null : Math.round(backlog.oldestWaitingSeconds),
        },
        openai: openai
          ? {
              configured: true,
              reachable: openai.value.ok,
              detail: openai.value.detail,
              checkedAt: openai.at,
            }
          : { configured: false, reachable: null, detail: i.openai.detail, checkedAt: null },
        gateway: {
          configured: i.wasender.configured,
          sessionStatus: session?.status ?? null,
          sessionStatusAt: session?.at ?? null,
          live: live
            ? {
                state: live.value.status.state,
                detail: live.value.status.detail,
                reason: live.value.reason,
                checkedAt: live.at,
              }
            : null,
        },
        integrations: i,
        persona: { name: persona.name, model },
        leadQualification,
        sendQueue: {
          stalled: sends?.reason != null,
          reason: sends?.reason ?? null,
          queuedTooLong: sends ? sends.queuedTooLong : null,
          oldestQueuedAt: sends?.oldestQueuedAt ?? null,
          throttleBlockedUntil: sends?.throttleBlockedUntil ?? null,
        },
        deadLetters: { open: deadLetters },
        outboundWebhooks: {
          disabled: hooks?.disabled ?? null,
          failing: hooks?.failing ?? null,
          notice: hooks?.disabled
            ? `${hooks.disabled} outbound webhook subscription(s) disabled after sustained delivery failure: see webhooks.list`
            : null,
        },
        knowledge: knowledge ?? {
          retrieval: 'lexical',
          vectorExtension: false,
          embeddingModel: null,
          documents: null,
          failed: null,
        },
      };
    },
  };
}
