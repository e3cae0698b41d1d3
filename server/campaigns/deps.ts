import type { Config } from '../config';
import type { Db } from '../db/types';
import type { Gateway } from '../integrations/gateway';
import type { MediaLinks, MediaStore } from '../integrations/media-store';
import type { JobQueue } from '../jobs/queue';
import type { Logger } from '../logger';

/** One durable chain of jobs per running campaign: each job dispatches for a while, then enqueues the next. */
export const QUEUE_CAMPAIGN = 'campaigns.dispatch';

export interface DispatchJob {
  campaignId: string;
  /** The dispatcher (lease owner) this job continues; a new one when absent. */
  owner?: string;
}

type CampaignConfig = Config['campaigns'];

export interface CampaignSettings extends CampaignConfig {
  /** The global gateway throttle, shared with conversation replies. */
  sendRatePerMinute: number;
  /** The gateway client's request timeout: a send cannot take longer than this. */
  gatewayTimeoutMs: number;
  /** Cap of a 429's retry time (GATEWAY_RETRY_AFTER_MAX_SECONDS; 300 when not given). */
  gatewayRetryAfterMaxSeconds: number;
  defaultRegion: string;
}

/** What campaigns run on; built once by the runtime (the gateway client is the pipeline's). */
export interface CampaignDeps {
  db: Db;
  queue: JobQueue;
  gateway: Gateway;
  log: Logger;
  settings: CampaignSettings;
  /** Where campaign files are stored and their signed links (absent: campaigns with a file fail to send). */
  media?: { store: MediaStore; links: MediaLinks };
}

/** The global gateway bucket, the same one conversation replies use. */
export { GATEWAY_THROTTLE } from '../conversation/deps';
export const campaignThrottle = (campaignId: string) => `campaign:${campaignId}`;

/** How long after its claim an in-flight send is surely over (its process died if it is still open). */
export const inFlightLimitMs = (s: CampaignSettings) => s.gatewayTimeoutMs + 5000;
