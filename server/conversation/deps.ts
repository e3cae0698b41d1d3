import type { Config } from '../config';
import type { Db } from '../db/types';
import type { AiClient } from '../integrations/ai';
import type { Gateway } from '../integrations/gateway';
import type { JobQueue } from '../jobs/queue';
import type { Logger } from '../logger';
import type { Persona } from '../persona';
import type { factsMessage } from './facts';

/** What the message pipeline runs on; built once by the runtime. */
export interface PipelineDeps {
  db: Db;
  queue: JobQueue;
  gateway: Gateway;
  ai: AiClient;
  persona: Persona;
  settings: Config['pipeline'] & { model: string; defaultRegion: string };
  log: Logger;
  /** The knowledge base the replies are grounded on (absent: replies without business facts). */
  knowledge?: FactsSource;
  /**
   * Called at the end of each reply job (one per burst of customer messages, whatever the outcome):
   * schedules the follow-up work on the conversation (lead assessment, score). Absent: nothing.
   */
  afterCustomerMessage?: (conversationId: string) => Promise<void>;
}

/** Where a reply's business facts come from (the knowledge base implements it). */
export interface FactsSource {
  /** The business-facts message for the reply prompt, and the passages it holds. */
  forPrompt(
    query: string,
    opts?: { maxTokens?: number; signal?: AbortSignal },
  ): Promise<ReturnType<typeof factsMessage>>;
}

export const QUEUE_REPLY = 'pipeline.reply';
export const QUEUE_SEND = 'pipeline.send';
/** The send throttle every gateway send (replies and campaigns) takes its slot from. */
export const GATEWAY_THROTTLE = 'gateway';

export interface ReplyJob {
  conversationId: string;
  /** The inbound message that scheduled this job; a newer one makes this job step aside. */
  messageId: string;
}

export interface SendJob {
  messageId: string;
}

/** Whether replies leave: what `/ready` and the system status report about the send queue. */
export interface SendQueueStatus {
  reason: string | null;
  queuedTooLong: number;
  oldestQueuedAt: Date | null;
  throttleBlockedUntil: Date | null;
}
