import type { Config } from '../config';
import type { Db } from '../db/types';
import type { AiClient } from '../integrations/ai';
import type { Gateway } from '../integrations/gateway';
import type { JobQueue } from '../jobs/queue';
import type { Knowledge } from '../knowledge';
import type { Logger } from '../logger';
import type { Persona } from '../persona';

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
  knowledge?: Pick<Knowledge, 'forPrompt'>;
}

export const QUEUE_REPLY = 'pipeline.reply';
export const QUEUE_SEND = 'pipeline.send';

export interface ReplyJob {
  conversationId: string;
  /** The inbound message that scheduled this job; a newer one makes this job step aside. */
  messageId: string;
}

export interface SendJob {
  messageId: string;
}
