import type { TSystemStatus } from '../contracts';
import type { Persona } from '../persona';

export interface SystemProbe {
  databaseMode: 'embedded' | 'postgres';
  pingDatabase(): Promise<boolean>;
  pingQueue(): Promise<boolean>;
}

export interface IntegrationFlags {
  openaiKey: boolean;
  wasenderToken: boolean;
  webhookSecret: boolean;
  allowUnsigned: boolean;
}

export interface SystemService {
  status(): Promise<TSystemStatus>;
  /** What is configured, without touching the database: for /health and the startup log. */
  integrations(): TSystemStatus['integrations'];
}

export const VERSION = '0.1.0';
const startedAt = Date.now();

export function createSystemService(deps: {
  probe: SystemProbe;
  flags: IntegrationFlags;
  persona: Persona;
  model: string;
}): SystemService {
  const { probe, flags, persona, model } = deps;

  function integrations(): TSystemStatus['integrations'] {
    return {
      openai: flags.openaiKey
        ? { configured: true, detail: `replies with ${model}` }
        : {
            configured: false,
            detail:
              'OPENAI_API_KEY is not set: customers get the persona fallback message and a human is asked',
          },
      wasender: flags.wasenderToken
        ? { configured: true, detail: 'sending through WaSender' }
        : {
            configured: false,
            detail: 'WASENDER_API_TOKEN is not set: outbound messages are stored with status not_configured',
          },
      webhook: flags.webhookSecret
        ? { configured: true, detail: 'webhook signature checked' }
        : flags.allowUnsigned
          ? {
              configured: false,
              detail: 'WEBHOOK_ALLOW_UNSIGNED is on: unsigned webhooks are accepted (development only)',
            }
          : {
              configured: false,
              detail: 'WASENDER_WEBHOOK_SECRET is not set: /webhook refuses every request',
            },
    };
  }

  return {
    integrations,
    async status() {
      const [db, queue] = await Promise.all([probe.pingDatabase(), probe.pingQueue()]);
      const i = integrations();
      const ok = db && queue && i.openai.configured && i.wasender.configured && i.webhook.configured;
      return {
        status: ok ? 'ok' : 'degraded',
        version: VERSION,
        uptimeSeconds: Math.round((Date.now() - startedAt) / 1000),
        database: { mode: probe.databaseMode, reachable: db },
        queue: { reachable: queue },
        integrations: i,
        persona: { name: persona.name, model },
      };
    },
  };
}
