import { eq } from 'drizzle-orm';
import type { FastifyInstance } from 'fastify';
import type pino from 'pino';
import { contacts, conversations } from '../../drizzle';
import { webhookHeaders } from '../../scripts/lib/wasender-payloads';
import { type FakeOpenAI, type FakeOpenAIOptions, startFakeOpenAI } from '../fakes/openai-server';
import { type FakeWasender, startFakeWasender } from '../fakes/wasender-server';
import { createTestRuntime, type TestRuntime } from './runtime';

export const WEBHOOK_SECRET = 'test-webhook-secret-0123456789';

export interface PipelineHarness extends TestRuntime {
  openai: FakeOpenAI;
  wasender: FakeWasender;
  http: FastifyInstance;
  baseUrl: string;
  /** Posts a webhook body over real HTTP with the right signature (or the given one). */
  post(body: unknown, signature?: string | null): Promise<Response>;
  closeAll(): Promise<void>;
}

/**
 * A server listening on loopback with workers running, wired to a fake OpenAI and a fake WaSender
 * (real HTTP both ways), a webhook secret, and settings made quick for tests.
 */
export async function startPipeline(
  env: Record<string, string> = {},
  fakes: {
    openai?: FakeOpenAIOptions;
    withoutOpenAI?: boolean;
    withoutGateway?: boolean;
    logger?: pino.Logger;
    /** Listen on this port (default: any free one). */
    port?: number;
  } = {},
): Promise<PipelineHarness> {
  const openai = await startFakeOpenAI(fakes.openai);
  const wasender = await startFakeWasender();
  const t = await createTestRuntime(
    {
      WASENDER_WEBHOOK_SECRET: WEBHOOK_SECRET,
      ...(fakes.withoutOpenAI ? {} : { OPENAI_API_KEY: openai.apiKey, OPENAI_BASE_URL: openai.url }),
      ...(fakes.withoutGateway
        ? {}
        : { WASENDER_API_TOKEN: wasender.token, WASENDER_BASE_URL: wasender.url }),
      REPLY_QUIET_MS: '300',
      SEND_RATE_PER_MINUTE: '6000',
      OPENAI_TIMEOUT_MS: '2000',
      WASENDER_TIMEOUT_MS: '2000',
      ...env,
    },
    { workers: true, ...(fakes.logger ? { logger: fakes.logger } : {}) },
  );
  const http = await t.app();
  await http.listen({ host: '127.0.0.1', port: fakes.port ?? 0 });
  const addr = http.server.address();
  const baseUrl = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
  return {
    ...t,
    openai,
    wasender,
    http,
    baseUrl,
    post(body, signature = WEBHOOK_SECRET) {
      return fetch(`${baseUrl}/webhook`, {
        method: 'POST',
        headers: webhookHeaders(signature),
        body: typeof body === 'string' ? body : JSON.stringify(body),
      });
    },
    async closeAll() {
      await t.close();
      await openai.close();
      await wasender.close();
    },
  };
}

/** Webhook bodies come from the shared WaSender payload builders (also used by simulate and the bench). */
export { newMessageId as newId, statusWebhook, textWebhook } from '../../scripts/lib/wasender-payloads';

/** Waits until the fake gateway has received `n` messages for this phone; returns them. */
export async function sendsTo(h: PipelineHarness, phone: string, n = 1, timeoutMs = 15_000) {
  const to = phone.startsWith('+') ? phone : `+${phone}`;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const list = h.wasender.sent.filter((s) => s.to === to);
    if (list.length >= n) return list;
    if (Date.now() > deadline) throw new Error(`expected ${n} sends to ${to}, got ${list.length}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A customer's conversation (id and owner) by their phone digits, as the tests post them. */
export async function conversationByPhone(h: Pick<PipelineHarness, 'runtime'>, phone: string) {
  const [row] = await h.runtime.database.db
    .select({ id: conversations.id, owner: conversations.owner })
    .from(conversations)
    .innerJoin(contacts, eq(contacts.id, conversations.contactId))
    .where(eq(contacts.phone, `+${phone}`));
  return row!;
}
