import { randomUUID } from 'node:crypto';
import type { CampaignAttachment } from '../../drizzle/schema/campaigns';
import type {
  TCampaignAttachmentInput,
  TGatewaySync,
  TGroup,
  TGroupCampaign,
  TGroupCampaignInput,
  TGroupListInput,
  TGroupMessage,
  TGroupMessagesInput,
  TGroupScheduleInput,
  TGroupSend,
  TGroupSendInput,
  TGroupSendsInput,
  TGroupSummary,
} from '../contracts';
import { GATEWAY_THROTTLE, type PipelineDeps } from '../conversation/deps';
import { sendStoredFile } from '../conversation/files';
import * as gq from '../db/queries/groups';
import * as tq from '../db/queries/throttles';
import type { Db } from '../db/types';
import { AppError, badRequest, conflict, notFound } from '../errors';
import type { Gateway } from '../integrations/gateway';
import type { MediaLinks, MediaStore } from '../integrations/media-store';
import { classifySendFailure } from '../integrations/send-policy';
import type { JobQueue } from '../jobs/queue';
import { sleep } from '../sleep';
import { actorOf } from './actor';
import type { Caller } from './caller';
import type { GatewaySyncService } from './gateway-sync';
import { gatewayFiles, requireFileSending, storeUpload } from './media';

/**
 * WhatsApp groups: the list the gateway gave (`sync`, a background run), sending to a group now, at a
 * time, or as a group campaign, and the messages members wrote (stored while the setting is on).
 *
 * Every group send is one `group_sends` row and one `groups.send` job. The job takes its turn in the
 * shared gateway throttle (the one conversation replies and campaigns use) and, for a campaign, in
 * the campaign's own throttle (`gapSeconds` apart); it never waits in a job longer than a couple of
 * seconds (a later turn ends the job and schedules a new one). A cancelled row is never sent.
 */
export interface GroupsService {
  sync(caller: Caller): Promise<TGatewaySync>;
  syncStatus(): Promise<TGatewaySync | null>;
  list(input: TGroupListInput): Promise<TGroupSummary[]>;
  get(jid: string): Promise<TGroup>;
  send(input: TGroupSendInput, caller: Caller): Promise<TGroupSend>;
  schedule(input: TGroupScheduleInput, caller: Caller): Promise<TGroupSend>;
  campaign(input: TGroupCampaignInput, caller: Caller): Promise<TGroupCampaign>;
  sends(input: TGroupSendsInput): Promise<TGroupSend[]>;
  cancel(id: string, caller: Caller): Promise<TGroupSend>;
  /** Cancels a group campaign's sends that have not started (those sent or sending stay as they are). */
  cancelCampaign(campaignId: string, caller: Caller): Promise<{ cancelled: number }>;
  messages(input: TGroupMessagesInput): Promise<TGroupMessage[]>;
}

export const QUEUE_GROUP_SEND = 'groups.send';

export interface GroupSendJob {
  sendId: string;
  /** The campaign-throttle turn this send holds once it waited for one. */
  batchSlotAt?: string;
  /** The gateway-throttle turn this send holds once it waited for one. */
  slotAt?: string;
}

/** The throttle bucket of one group campaign (its sends `gapSeconds` apart). */
export const groupCampaignThrottle = (campaignId: string) => `group-campaign:${campaignId}`;

/** How far ahead a scheduled send may be. */
const MAX_SCHEDULE_AHEAD_MS = 366 * 86_400_000;
/** Longest throttle wait a send job sleeps through; a longer one schedules a new job. */
const IN_JOB_WAIT_MS = 2000;

const toSend = (r: gq.GroupSendRow): TGroupSend => ({
  id: r.id,
  jid: r.groupJid,
  text: r.text,
  mentions: r.mentions,
  attachment: r.attachment
    ? {
        kind: r.attachment.kind,
        mimeType: r.attachment.mimeType,
        fileName: r.attachment.fileName,
        bytes: r.attachment.bytes,
      }
    : null,
  status: r.status,
  sendAt: r.sendAt,
  campaignId: r.batchId,
  campaignName: r.batchName,
  attempts: r.attempts,
  providerMessageId: r.providerMessageId,
  error: r.error,
  createdBy: r.createdBy,
  sentAt: r.sentAt,
  createdAt: r.createdAt,
});

export function createGroupsService(deps: {
  db: Db;
  queue: JobQueue;
  gateway: Gateway;
  sync: GatewaySyncService;
  /** Where group files are stored and how the gateway fetches them (absent: no files). */
  media?: { store: MediaStore; links: MediaLinks };
  /** MEDIA_SEND_MAX_BYTES: the largest file. */
  sendMaxBytes: number;
}): GroupsService {
  const { db, queue, gateway, sync } = deps;

  /** Checks the file (a 400 before anything is stored), then stores it once for every row it goes with. */
  async function storeAttachment(
    input: TCampaignAttachmentInput | undefined,
  ): Promise<CampaignAttachment | null> {
    if (!input) return null;
    const media = requireFileSending(deps.media, gatewayFiles(gateway));
    return storeUpload(media.store, input, deps.sendMaxBytes);
  }

  /** The synced group, with every mention one of its participants. */
  async function knownGroup(jid: string, mentions: string[]) {
    const group = await gq.findGroup(db, jid);
    if (!group) throw notFound('Group', `${jid} (run groups.sync to import the gateway's groups)`);
    const members = new Set(group.participants.map((p) => p.jid));
    const strangers = mentions.filter((m) => !members.has(m));
    if (strangers.length)
      throw badRequest('Only participants of the group can be mentioned', {
        mentions: strangers.slice(0, 10).map((m) => `${m} is not a participant of ${jid}`),
      });
    return group;
  }

  function canSend() {
    if (!gateway.configured)
      throw new AppError(
        'PRECONDITION_FAILED',
        `The ${gateway.name} gateway is not configured (no API token)`,
      );
  }

  /** Stores the rows and their jobs together; wakes the workers. */
  async function enqueue(rows: gq.GroupSendInsert[]): Promise<gq.GroupSendRow[]> {
    const stored = await db.transaction(async (tx) => {
      const inserted = await gq.insertGroupSends(tx, rows);
      for (const r of inserted) {
        await queue.send<GroupSendJob>(
          QUEUE_GROUP_SEND,
          { sendId: r.id },
          r.sendAt.getTime() > Date.now() ? { tx, startAfter: r.sendAt } : { tx },
        );
      }
      return inserted;
    });
    queue.wake(QUEUE_GROUP_SEND);
    return stored;
  }

  return {
    sync: (caller) => sync.start('groups', caller),
    syncStatus: () => sync.status('groups'),

    list: (input) => gq.listGroups(db, input),

    async get(jid) {
      const group = await gq.findGroup(db, jid);
      if (!group) throw notFound('Group', jid);
      return group;
    },

    async send(input, caller) {
      canSend();
      const mentions = [...new Set(input.mentions)];
      await knownGroup(input.jid, mentions);
      const attachment = await storeAttachment(input.attachment);
      const [row] = await enqueue([
        {
          groupJid: input.jid,
          text: input.text,
          attachment,
          mentions,
          status: 'queued',
          sendAt: new Date(),
          createdBy: actorOf(caller).name,
        },
      ]);
      return toSend(row!);
    },

    async schedule(input, caller) {
      if (input.attachment) requireFileSending(deps.media, gatewayFiles(gateway));
      const now = Date.now();
      if (input.sendAt.getTime() <= now)
        throw badRequest('sendAt must be in the future', { sendAt: ['must be in the future'] });
      if (input.sendAt.getTime() > now + MAX_SCHEDULE_AHEAD_MS)
        throw badRequest('sendAt is too far ahead', { sendAt: ['must be within a year'] });
      const mentions = [...new Set(input.mentions)];
      await knownGroup(input.jid, mentions);
      const attachment = await storeAttachment(input.attachment);
      const [row] = await enqueue([
        {
          groupJid: input.jid,
          text: input.text,
          attachment,
          mentions,
          status: 'scheduled',
          sendAt: input.sendAt,
          createdBy: actorOf(caller).name,
        },
      ]);
      return toSend(row!);
    },

    async campaign(input, caller) {
      canSend();
      const jids = [...new Set(input.jids)];
      const now = Date.now();
      const startAt = input.startAt && input.startAt.getTime() > now ? input.startAt : new Date(now);
      if (startAt.getTime() > now + MAX_SCHEDULE_AHEAD_MS)
        throw badRequest('startAt is too far ahead', { startAt: ['must be within a year'] });
      for (const jid of jids) await knownGroup(jid, []);
      const attachment = await storeAttachment(input.attachment);
      const campaignId = randomUUID();
      const by = actorOf(caller).name;
      const rows = await enqueue(
        jids.map((jid) => ({
          groupJid: jid,
          text: input.text,
          attachment,
          status: startAt.getTime() > now ? ('scheduled' as const) : ('queued' as const),
          sendAt: startAt,
          batchId: campaignId,
          batchName: input.name,
          gapSeconds: input.gapSeconds,
          createdBy: by,
        })),
      );
      return { campaignId, name: input.name, sends: rows.map(toSend) };
    },

    async sends(input) {
      const rows = await gq.listGroupSends(db, {
        jid: input.jid,
        batchId: input.campaignId,
        status: input.status,
        limit: input.limit,
      });
      return rows.map(toSend);
    },

    async cancel(id) {
      const row = await gq.cancelGroupSend(db, id);
      if (row) return toSend(row);
      const existing = await gq.findGroupSend(db, id);
      if (!existing) throw notFound('Group send', id);
      throw conflict(
        `The group send is ${existing.status}: only a scheduled or queued send can be cancelled`,
      );
    },

    async cancelCampaign(campaignId) {
      const cancelled = await gq.cancelGroupCampaign(db, campaignId);
      if (cancelled === 0) {
        const [any] = await gq.listGroupSends(db, { batchId: campaignId, limit: 1 });
        if (!any) throw notFound('Group campaign', campaignId);
      }
      return { cancelled };
    },

    async messages(input) {
      const rows = await gq.listGroupMessages(db, input);
      return rows.map((r) => ({
        id: r.id,
        jid: r.groupJid,
        providerMessageId: r.providerMessageId,
        senderPhone: r.senderPhone,
        senderLid: r.senderLid,
        senderName: r.senderName,
        type: r.type,
        body: r.body,
        sentAt: r.sentAt,
      }));
    },
  };
}

export type GroupSendOutcome =
  | 'sent'
  | 'skipped'
  | 'early'
  | 'rescheduled'
  | 'rate-limited'
  | 'retrying'
  | 'failed'
  | 'interrupted';

/**
 * One group send job: `gateway.sendText`, or `gateway.sendMedia` with the text as caption when the row
 * has a file (WaSender fetches it from a signed link to the row, `/media/<row id>`; an uploading
 * gateway reads its bytes).
 */
export async function runGroupSend(
  deps: Pick<PipelineDeps, 'db' | 'queue' | 'gateway' | 'settings' | 'log' | 'media'>,
  data: GroupSendJob,
): Promise<GroupSendOutcome> {
  const { db, queue, gateway, settings, log } = deps;
  const row = await gq.findGroupSend(db, data.sendId);
  if (!row) return 'skipped';
  if (row.status === 'sending') {
    // A handler that died mid-send: the gateway may have sent it, so it is not sent again.
    if (Date.now() - row.updatedAt.getTime() > settings.gatewayTimeoutMs + 10_000) {
      await gq.finishGroupSend(db, row.id, {
        status: 'failed',
        error: 'Sending was interrupted; it may not have been delivered',
      });
      return 'interrupted';
    }
    return 'skipped';
  }
  if (row.status !== 'scheduled' && row.status !== 'queued') return 'skipped';
  if (row.sendAt.getTime() > Date.now() + IN_JOB_WAIT_MS) {
    await queue.send<GroupSendJob>(QUEUE_GROUP_SEND, { sendId: row.id }, { startAfter: row.sendAt });
    return 'early';
  }
  if (!gateway.configured) {
    await gq.finishGroupSend(db, row.id, {
      status: 'failed',
      error: `The ${gateway.name} gateway is not configured (no API token)`,
    });
    return 'failed';
  }

  const later = async (at: Date, next: GroupSendJob) => {
    await queue.send<GroupSendJob>(QUEUE_GROUP_SEND, next, { startAfter: at });
    return 'rescheduled' as const;
  };
  // The campaign's own pace first, then the shared gateway throttle: each turn taken when it is due.
  let batchSlotAt = data.batchSlotAt;
  if (row.batchId && row.gapSeconds > 0 && !batchSlotAt) {
    const slot = await tq.reserveSlot(db, groupCampaignThrottle(row.batchId), row.gapSeconds * 1000);
    batchSlotAt = slot.toISOString();
    if (slot.getTime() - Date.now() > IN_JOB_WAIT_MS) return later(slot, { sendId: row.id, batchSlotAt });
  }
  if (batchSlotAt) {
    const wait = new Date(batchSlotAt).getTime() - Date.now();
    if (wait > IN_JOB_WAIT_MS) return later(new Date(batchSlotAt), { sendId: row.id, batchSlotAt });
    if (wait > 0) await sleep(wait);
  }
  const held = data.slotAt ? new Date(data.slotAt) : null;
  const slot =
    held && !Number.isNaN(held.getTime())
      ? held
      : await tq.reserveSlot(db, GATEWAY_THROTTLE, 60_000 / settings.sendRatePerMinute);
  const wait = slot.getTime() - Date.now();
  if (wait > IN_JOB_WAIT_MS)
    return later(slot, {
      sendId: row.id,
      ...(batchSlotAt ? { batchSlotAt } : {}),
      slotAt: slot.toISOString(),
    });
  if (wait > 0) await sleep(wait);

  const claimed = await gq.claimGroupSend(db, row.id);
  if (!claimed) return 'skipped';
  try {
    const res = claimed.attachment
      ? await sendStoredFile(deps.gateway, deps.media, {
          to: claimed.groupJid,
          caption: claimed.text || null,
          linkId: claimed.id,
          file: claimed.attachment,
        })
      : await gateway.sendText({
          to: claimed.groupJid,
          text: claimed.text,
          mentions: claimed.mentions,
        });
    await gq.finishGroupSend(db, claimed.id, { status: 'sent', providerMessageId: res.providerId });
    return 'sent';
  } catch (err) {
    const failure = classifySendFailure(err, {
      attempt: claimed.attempts,
      maxAttempts: settings.sendMaxAttempts,
      retryAfterMaxSeconds: settings.gatewayRetryAfterMaxSeconds,
    });
    switch (failure.kind) {
      case 'retry-after': {
        const until = new Date(Date.now() + failure.waitMs);
        await tq.pushThrottle(db, GATEWAY_THROTTLE, until);
        await gq.requeueGroupSend(db, claimed.id, null);
        await queue.send<GroupSendJob>(QUEUE_GROUP_SEND, { sendId: claimed.id }, { startAfter: until });
        log.warn({ sendId: claimed.id, retryAfterMs: failure.retryAfterMs }, 'gateway rate limit: waiting');
        return 'rate-limited';
      }
      case 'backoff':
        await gq.requeueGroupSend(db, claimed.id, failure.error);
        await queue.send<GroupSendJob>(
          QUEUE_GROUP_SEND,
          { sendId: claimed.id },
          { startAfter: new Date(Date.now() + failure.delayMs) },
        );
        return 'retrying';
      case 'may-have-arrived':
      case 'give-up':
      case 'rejected':
        await gq.finishGroupSend(db, claimed.id, { status: 'failed', error: failure.error });
        return 'failed';
      case 'not-configured':
        await gq.finishGroupSend(db, claimed.id, {
          status: 'failed',
          error: `The ${gateway.name} gateway is not configured (no API token)`,
        });
        return 'failed';
      case 'unknown':
        await gq.finishGroupSend(db, claimed.id, { status: 'failed', error: 'Sending failed unexpectedly' });
        throw err;
    }
  }
}

/** Creates the group send queue; every process does this, workers or not. */
export async function defineGroupsQueues(queue: JobQueue, sendJobTimeoutSeconds: number): Promise<void> {
  await queue.define({
    name: QUEUE_GROUP_SEND,
    retryLimit: 3,
    retryDelay: 5,
    expireInSeconds: sendJobTimeoutSeconds,
  });
}

/** Starts this process's group send and gateway sync workers. */
export async function startGroupsWorkers(
  deps: Pick<PipelineDeps, 'db' | 'queue' | 'gateway' | 'settings' | 'log' | 'media'>,
  runSync: (syncId: string, signal: AbortSignal) => Promise<unknown>,
  syncQueue: string,
): Promise<{ stop(): void }> {
  const stopping = new AbortController();
  await deps.queue.work<GroupSendJob>(QUEUE_GROUP_SEND, { concurrency: 2 }, async (job) => {
    const outcome = await runGroupSend(deps, job.data);
    deps.log.debug({ sendId: job.data.sendId, outcome }, 'group send job done');
  });
  await deps.queue.work<{ syncId: string }>(syncQueue, { concurrency: 1 }, async (job) => {
    const outcome = await runSync(job.data.syncId, stopping.signal);
    deps.log.info({ syncId: job.data.syncId, outcome }, 'gateway sync job done');
  });
  return { stop: () => stopping.abort() };
}
