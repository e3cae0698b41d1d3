import type { Config } from '../config';
import type { Db, Tx } from '../db/types';
import type { AiClient, AiTool, AiToolCall } from '../integrations/ai';
import type { Gateway } from '../integrations/gateway';
import type { MediaLinks, MediaStore } from '../integrations/media-store';
import type { Transcriber } from '../integrations/transcription';
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
  settings: Config['pipeline'] & {
    model: string;
    defaultRegion: string;
    /** Store group members' messages (a live setting; absent: off). */
    storeGroupMessages?: boolean;
  };
  log: Logger;
  /** The knowledge base the replies are grounded on (absent: replies without business facts). */
  knowledge?: FactsSource;
  /** The model tools that keep the CRM (absent: the model may only ask for a human). */
  tools?: ReplyTools;
  /** Media files: where they are stored, their signed links, limits, speech to text (absent: no media). */
  media?: MediaDeps;
  /**
   * Called at the end of each reply job (one per burst of customer messages, whatever the outcome):
   * schedules the follow-up work on the conversation (lead assessment, score). Absent: nothing.
   */
  afterCustomerMessage?: (conversationId: string) => Promise<void>;
}

/** The contact (and conversation) a reply's tools act on: always the conversation's own. */
export interface ToolTarget {
  contactId: string;
  conversationId: string;
}

/** A tool call that passed its checks, applied when the reply is written. */
export interface ToolAction {
  name: string;
  args: unknown;
}

export type ToolVerdict = { ok: true; action: ToolAction; result: string } | { ok: false; error: string };

/**
 * The CRM tools the reply offers the model (the bot-tools service implements it): their definitions,
 * a check of one call (arguments and rules, reading but never writing), and the writes of the
 * accepted calls inside the reply's own transaction.
 */
export interface ReplyTools {
  /** The tools as offered to the model at `now`. */
  definitions(now: Date): AiTool[];
  check(call: AiToolCall, target: ToolTarget): Promise<ToolVerdict>;
  apply(tx: Tx, target: ToolTarget, actions: ToolAction[]): Promise<void>;
}

export interface MediaDeps {
  store: MediaStore;
  links: MediaLinks;
  /** MEDIA_MAX_BYTES: larger files are refused. */
  maxBytes: number;
  transcriber?: Transcriber;
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
export { QUEUE_MEDIA } from '../db/queries/media';
export { QUEUE_SEND } from '../db/queries/messages';
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
