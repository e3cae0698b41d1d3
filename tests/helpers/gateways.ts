import type { FastifyInstance } from 'fastify';
import { statusWebhook, textWebhook, webhookHeaders } from '../../scripts/lib/wasender-payloads';
import { type FakeOpenAI, startFakeOpenAI } from '../fakes/openai-server';
import { type FakeWasender, startFakeWasender } from '../fakes/wasender-server';
import {
  cloudWebhook,
  type FakeCloud,
  postCloudWebhook,
  startFakeWhatsappCloud,
} from '../fakes/whatsapp-cloud-server';
import { WEBHOOK_SECRET } from './pipeline';
import { createTestRuntime, type TestRuntime } from './runtime';

export type GatewayKind = 'wasender' | 'whatsapp-cloud';

export const CLOUD_APP_SECRET = 'test-cloud-app-secret-0123456789';
export const CLOUD_VERIFY_TOKEN = 'test-cloud-verify-token';

/** One message as either fake recorded it. */
export interface GatewaySend {
  to: string;
  text: string | null;
  /** The id the gateway gave the send (WaSender's msgId, the Cloud API's wamid). */
  id: string;
}

/**
 * A server with workers, listening on loopback, wired to the fake OpenAI and to one gateway's fake
 * (WaSender or the Cloud API): the same customer scenarios drive either through these methods.
 */
export interface GatewayHarness extends TestRuntime {
  kind: GatewayKind;
  openai: FakeOpenAI;
  wasender: FakeWasender | null;
  cloud: FakeCloud | null;
  http: FastifyInstance;
  baseUrl: string;
  /** A customer's text message, through the gateway's own webhook (a new message id unless given). */
  inbound(phone: string, text: string, id?: string): Promise<Response>;
  /** A delivery status of a send, as the gateway reports it. */
  status(send: GatewaySend, status: 'delivered' | 'read'): Promise<Response>;
  sends(): GatewaySend[];
  sendsTo(phone: string, n?: number, timeoutMs?: number): Promise<GatewaySend[]>;
  closeAll(): Promise<void>;
}

export async function startGateway(
  kind: GatewayKind,
  env: Record<string, string> = {},
): Promise<GatewayHarness> {
  const openai = await startFakeOpenAI();
  const wasender = kind === 'wasender' ? await startFakeWasender() : null;
  const cloud = kind === 'whatsapp-cloud' ? await startFakeWhatsappCloud() : null;
  const gatewayEnv: Record<string, string> = wasender
    ? { WASENDER_API_TOKEN: wasender.token, WASENDER_BASE_URL: wasender.url }
    : {
        GATEWAY: 'whatsapp-cloud',
        WHATSAPP_CLOUD_ACCESS_TOKEN: cloud!.token,
        WHATSAPP_CLOUD_PHONE_NUMBER_ID: cloud!.phoneNumberId,
        WHATSAPP_CLOUD_WABA_ID: cloud!.wabaId,
        WHATSAPP_CLOUD_BASE_URL: cloud!.url,
        WHATSAPP_CLOUD_API_VERSION: cloud!.apiVersion,
      };
  const t = await createTestRuntime(
    {
      WASENDER_WEBHOOK_SECRET: WEBHOOK_SECRET,
      WHATSAPP_CLOUD_APP_SECRET: CLOUD_APP_SECRET,
      WHATSAPP_CLOUD_VERIFY_TOKEN: CLOUD_VERIFY_TOKEN,
      OPENAI_API_KEY: openai.apiKey,
      OPENAI_BASE_URL: openai.url,
      REPLY_QUIET_MS: '100',
      SEND_RATE_PER_MINUTE: '6000',
      OPENAI_TIMEOUT_MS: '2000',
      WASENDER_TIMEOUT_MS: '2000',
      CAMPAIGN_DEFAULT_RATE_PER_MINUTE: '6000',
      CAMPAIGN_LEASE_SECONDS: '3',
      CAMPAIGN_SWEEP_SECONDS: '1',
      CAMPAIGN_SLICE_SECONDS: '5',
      ...gatewayEnv,
      ...env,
    },
    { workers: true },
  );
  const http = await t.app();
  await http.listen({ host: '127.0.0.1', port: 0 });
  const addr = http.server.address();
  const baseUrl = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
  const sends = (): GatewaySend[] =>
    wasender
      ? wasender.sent.map((s) => ({ to: s.to, text: s.text, id: String(s.msgId) }))
      : cloud!.sent.map((s) => ({ to: s.to, text: s.text, id: s.id }));
  return {
    ...t,
    kind,
    openai,
    wasender,
    cloud,
    http,
    baseUrl,
    inbound(phone, text, id) {
      if (wasender) {
        return fetch(`${baseUrl}/webhook`, {
          method: 'POST',
          headers: webhookHeaders(WEBHOOK_SECRET),
          body: JSON.stringify(textWebhook({ phone, text, ...(id ? { id } : {}) })),
        });
      }
      return postCloudWebhook(
        baseUrl,
        cloudWebhook.message({ phone, text, ...(id ? { id: `wamid.${id}` } : {}) }),
        CLOUD_APP_SECRET,
      );
    },
    status(send, status) {
      if (wasender) {
        // WaSender names our message by its msgId until WhatsApp's id is known.
        return fetch(`${baseUrl}/webhook`, {
          method: 'POST',
          headers: webhookHeaders(WEBHOOK_SECRET),
          body: JSON.stringify(
            statusWebhook(`3EB0${send.id}`, status === 'read' ? 4 : 3, { msgId: Number(send.id) }),
          ),
        });
      }
      return postCloudWebhook(
        baseUrl,
        cloudWebhook.status({ id: send.id, status, phone: send.to.slice(1) }),
        CLOUD_APP_SECRET,
      );
    },
    sends,
    async sendsTo(phone, n = 1, timeoutMs = 15_000) {
      const to = phone.startsWith('+') ? phone : `+${phone}`;
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const list = sends().filter((s) => s.to === to);
        if (list.length >= n) return list;
        if (Date.now() > deadline) throw new Error(`expected ${n} sends to ${to}, got ${list.length}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    async closeAll() {
      await t.close();
      await openai.close();
      await wasender?.close();
      await cloud?.close();
    },
  };
}
