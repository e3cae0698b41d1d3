import type { CampaignStatus } from '../../drizzle';
import { resolveAudience } from '../campaigns/audience';
import type { CampaignKicker } from '../campaigns/index';
import { parseNumbers } from '../campaigns/numbers';
import {
  normaliseDefaults,
  render,
  templateVariables,
  unknownVariables,
  variableKey,
} from '../campaigns/template';
import type {
  TCampaignCopySuggestion,
  TCampaignCreateInput,
  TCampaignDetail,
  TCampaignListInput,
  TCampaignPauseInput,
  TCampaignPreview,
  TCampaignPreviewInput,
  TCampaignProgress,
  TCampaignRecipientPage,
  TCampaignRecipientsInput,
  TCampaignRetryInput,
  TCampaignRetryResult,
  TCampaignScheduleInput,
  TCampaignSuggestCopyInput,
  TCampaignSummary,
} from '../contracts';
import { CUSTOMER_WINDOW_MS } from '../conversation/window';
import * as q from '../db/queries/campaigns';
import { recordEvents } from '../db/queries/events';
import type { Db, DbOrTx } from '../db/types';
import { AppError, badRequest, conflict, notFound } from '../errors';
import type { MediaLinks, MediaStore } from '../integrations/media-store';
import type { Caller } from './caller';
import { type CopywriterDeps, suggestCopy } from './campaign-copy';
import { requireFileSending, storeUpload } from './media';
import { decodeCursor, toPage } from './pagination';
import { requireApprovedTemplate } from './templates';

/** Campaigns: drafts, their audience and preview, the lifecycle, and progress figures. */
export interface CampaignsService {
  /** Resolves the audience into recipients and stores a draft. */
  create(input: TCampaignCreateInput, caller: Caller): Promise<TCampaignDetail>;
  preview(input: TCampaignPreviewInput): Promise<TCampaignPreview>;
  schedule(input: TCampaignScheduleInput): Promise<TCampaignDetail>;
  start(id: string): Promise<TCampaignDetail>;
  pause(input: TCampaignPauseInput, caller: Caller): Promise<TCampaignDetail>;
  resume(id: string): Promise<TCampaignDetail>;
  /** Stops for good: recipients not yet sent are skipped. */
  cancel(id: string): Promise<TCampaignDetail>;
  retryFailed(input: TCampaignRetryInput): Promise<TCampaignRetryResult>;
  get(id: string): Promise<TCampaignDetail>;
  list(filter: TCampaignListInput): Promise<TCampaignSummary[]>;
  recipients(input: TCampaignRecipientsInput): Promise<TCampaignRecipientPage>;
  progress(id: string): Promise<TCampaignProgress>;
  /** Progress figures whenever they change (read every `intervalMs`), until final, deleted or aborted. */
  watch(id: string, opts: { signal?: AbortSignal; intervalMs?: number }): AsyncIterable<TCampaignProgress>;
  /** Deletes a draft with its recipients. */
  delete(id: string): Promise<void>;
  /** A campaign text the model proposes for a brief; its variables are all valid contact variables. */
  suggestCopy(input: TCampaignSuggestCopyInput): Promise<TCampaignCopySuggestion>;
}

export interface CampaignServiceOptions {
  kicker: CampaignKicker;
  gatewayConfigured: boolean;
  /** The sending gateway's name: `whatsapp-cloud` has the 24-hour window and templates. */
  gatewayName: string;
  defaultRatePerMinute: number;
  jitterPercent: number;
  failureWindow: number;
  failureThresholdPercent: number;
  maxRecipients: number;
  /** The global gateway throttle, which bounds every campaign's pace. */
  sendRatePerMinute: number;
  /** Whether the gateway sends files (`Gateway.sendMedia`). */
  gatewaySendsMedia: boolean;
  /** The gateway fetches files from a public link (WaSender), so PUBLIC_BASE_URL is needed. */
  gatewayFetchesMediaByUrl: boolean;
  /** Where campaign files are stored and how the gateway fetches them (absent: no attachments). */
  media?: { store: MediaStore; links: MediaLinks };
  /** MEDIA_SEND_MAX_BYTES: the largest attachment. */
  sendMaxBytes: number;
}

const FINAL: CampaignStatus[] = ['completed', 'cancelled'];

export function createCampaignsService(deps: {
  db: Db;
  defaultRegion: string;
  campaigns: CampaignServiceOptions;
  /** The AI client that proposes campaign texts. */
  copywriter: CopywriterDeps;
}): CampaignsService {
  const { db, defaultRegion } = deps;
  const opts = deps.campaigns;

  async function requireCampaign(id: string) {
    const c = await q.findCampaign(db, id);
    if (!c) throw notFound('Campaign', id);
    return c;
  }

  function requireGateway() {
    if (!opts.gatewayConfigured) {
      throw new AppError(
        'PRECONDITION_FAILED',
        opts.gatewayName === 'whatsapp-cloud'
          ? 'The WhatsApp gateway is not configured (WHATSAPP_CLOUD_ACCESS_TOKEN, WHATSAPP_CLOUD_PHONE_NUMBER_ID): campaigns cannot be sent'
          : 'The WhatsApp gateway is not configured (WASENDER_API_TOKEN): campaigns cannot be sent',
      );
    }
  }

  /** A campaign with a file needs a gateway that sends files (and PUBLIC_BASE_URL when it fetches them). */
  const requireMediaSending = () =>
    requireFileSending(opts.media, {
      configured: opts.gatewayConfigured,
      name: opts.gatewayName,
      sendsMedia: opts.gatewaySendsMedia,
      fetchesMediaByUrl: opts.gatewayFetchesMediaByUrl,
    });

  async function figuresOf(c: {
    id: string;
    status: CampaignStatus;
    ratePerMinute: number;
    pausedReason: string | null;
  }) {
    const f = await q.campaignFigures(db, c.id);
    const reached = f.sent + f.delivered + f.read;
    const share = (n: number, of: number) => (of > 0 ? n / of : null);
    const interval = Math.max(60_000 / c.ratePerMinute, 60_000 / opts.sendRatePerMinute);
    const open = f.pending + f.sending;
    return {
      figures: {
        total: f.total,
        pending: f.pending,
        sending: f.sending,
        sent: f.sent,
        delivered: f.delivered,
        read: f.read,
        failed: f.failed,
        skipped: f.skipped,
        replied: f.replied,
      },
      rates: {
        delivery: share(f.delivered + f.read, reached),
        read: share(f.read, reached),
        reply: share(f.replied, reached),
        failure: share(f.failed, reached + f.failed),
        sentLastMinute: f.sentLastMinute,
      },
      estimatedFinishAt: c.status === 'running' && open > 0 ? new Date(Date.now() + open * interval) : null,
    };
  }

  async function detail(id: string): Promise<TCampaignDetail> {
    const c = await requireCampaign(id);
    const progress = await figuresOf(c);
    return {
      id: c.id,
      name: c.name,
      status: c.status,
      ratePerMinute: c.ratePerMinute,
      scheduledAt: c.scheduledAt,
      startedAt: c.startedAt,
      completedAt: c.completedAt,
      createdAt: c.createdAt,
      recipients: c.recipients,
      pausedReason: c.pausedReason,
      template: c.template,
      cloudTemplate: c.cloudTemplate ?? null,
      variableDefaults: c.variableDefaults,
      attachment: c.attachment
        ? {
            kind: c.attachment.kind,
            mimeType: c.attachment.mimeType,
            fileName: c.attachment.fileName,
            bytes: c.attachment.bytes,
          }
        : null,
      audience: {
        contactIds: c.audience.contactIds?.length ?? 0,
        tags: c.audience.tags ?? [],
        leadStatuses: c.audience.leadStatuses ?? [],
        numbers: c.audience.numbers ?? null,
      },
      jitterPercent: c.jitterPercent,
      autoPause: { window: c.failureWindow, failurePercent: c.failureThresholdPercent },
      pausedAt: c.pausedAt,
      cancelledAt: c.cancelledAt,
      createdBy: c.createdBy,
      updatedAt: c.updatedAt,
      ...progress,
      invalid: c.audienceReport.invalidCount,
      duplicate: c.audienceReport.duplicateCount,
    };
  }

  /** Applies a status change allowed only from `from`; a refused one says why in the campaign's terms. */
  async function change(
    id: string,
    from: CampaignStatus[],
    set: Partial<q.CampaignInsert> & { status: CampaignStatus },
    also?: (tx: DbOrTx) => Promise<unknown>,
  ) {
    const c = await requireCampaign(id);
    const moved = await db.transaction(async (tx) => {
      if (!(await q.transition(tx, id, from, set))) return false;
      await also?.(tx);
      await recordEvents(tx, [{ type: 'campaign.progress', campaignId: id }]);
      return true;
    });
    if (!moved) {
      const now = (await q.findCampaign(db, id))?.status ?? c.status;
      throw conflict(`Campaign ${id} is ${now}; this needs a campaign that is ${from.join(' or ')}`);
    }
  }

  async function progress(id: string): Promise<TCampaignProgress> {
    const c = await requireCampaign(id);
    return {
      campaignId: id,
      status: c.status,
      pausedReason: c.pausedReason,
      ...(await figuresOf(c)),
      at: new Date(),
    };
  }

  return {
    async create(input, caller) {
      const numbers = input.audience.numbers?.trim()
        ? parseNumbers(input.audience.numbers, defaultRegion, opts.maxRecipients)
        : null;
      const unknown = unknownVariables(input.template, [
        ...Object.keys(input.variableDefaults),
        ...(numbers?.columns ?? []),
      ]);
      if (unknown.length) {
        throw badRequest(
          `template: unknown variable${unknown.length > 1 ? 's' : ''} ${unknown.map((v) => `{{${v}}}`).join(', ')}: use a contact field (name, first_name, company, email, phone, ...), a CSV column, or give a default`,
          { template: [`unknown variables: ${unknown.join(', ')}`] },
        );
      }
      if (input.cloudTemplate) {
        await requireApprovedTemplate(db, input.cloudTemplate, 'cloudTemplate');
        const known = [...Object.keys(input.variableDefaults), ...(numbers?.columns ?? [])];
        const unknownInTemplate = input.cloudTemplate.variables.flatMap((v) => unknownVariables(v, known));
        if (unknownInTemplate.length) {
          throw badRequest(`cloudTemplate.variables: unknown variables ${unknownInTemplate.join(', ')}`, {
            cloudTemplate: [`unknown variables: ${unknownInTemplate.join(', ')}`],
          });
        }
      }
      const attachment = input.attachment
        ? await storeUpload(requireMediaSending().store, input.attachment, opts.sendMaxBytes)
        : null;
      const id = await db.transaction(async (tx) => {
        const id = await q.insertCampaign(tx, {
          name: input.name,
          attachment,
          template: input.template,
          cloudTemplate: input.cloudTemplate ?? null,
          variableDefaults: normaliseDefaults(input.variableDefaults),
          ratePerMinute: input.ratePerMinute ?? opts.defaultRatePerMinute,
          jitterPercent: input.jitterPercent ?? opts.jitterPercent,
          failureWindow: input.autoPause?.window ?? opts.failureWindow,
          failureThresholdPercent: input.autoPause?.failurePercent ?? opts.failureThresholdPercent,
          createdBy: caller.id,
        });
        const resolved = await resolveAudience(tx, input.audience, numbers, opts.maxRecipients);
        const rows = resolved.members.map((m, i) => ({
          campaignId: id,
          contactId: m.contactId,
          phone: m.phone,
          position: i,
          variables: m.variables,
        }));
        for (let i = 0; i < rows.length; i += 1000) await q.insertRecipients(tx, rows.slice(i, i + 1000));
        await q.setAudienceReport(tx, id, resolved.audience, resolved.report);
        return id;
      });
      return detail(id);
    },

    async preview(input) {
      const c = await requireCampaign(input.id);
      const rows = await q.recipientsWithContacts(db, c.id);
      const defaults = normaliseDefaults(c.variableDefaults);
      const variables = templateVariables(c.template);
      const missing = new Map(variables.map((v) => [v.key, 0]));
      const samples: TCampaignPreview['samples'] = [];
      const optedOut: TCampaignPreview['optedOut'] = [];
      let valid = 0;
      let blocked = 0;
      for (const r of rows) {
        if (r.optedOutAt || r.deletedAt) {
          blocked++;
          if (optedOut.length < 1000)
            optedOut.push({ contactId: r.contactId, phone: r.phone, name: r.name ?? r.pushName });
          continue;
        }
        valid++;
        const out = render(c.template, { contact: r, variables: r.variables, defaults });
        for (const key of out.defaulted) missing.set(key, (missing.get(key) ?? 0) + 1);
        if (samples.length < input.sample) {
          samples.push({
            contactId: r.contactId,
            phone: r.phone,
            name: r.name ?? r.pushName,
            text: out.text,
            defaulted: out.defaulted,
          });
        }
      }
      return {
        campaignId: c.id,
        totals: {
          valid,
          invalid: c.audienceReport.invalidCount,
          duplicate: c.audienceReport.duplicateCount,
          optedOut: blocked,
          recipients: rows.length,
        },
        invalid: c.audienceReport.invalid,
        duplicates: c.audienceReport.duplicates,
        optedOut,
        variables: variables.map((v) => v.key),
        missing: variables
          .filter((v) => (missing.get(v.key) ?? 0) > 0)
          .map((v) => ({
            variable: v.key,
            recipients: missing.get(v.key) ?? 0,
            default: v.inlineDefault ?? defaults[variableKey(v.key)] ?? '',
          })),
        samples,
      };
    },

    async schedule(input) {
      requireGateway();
      if (input.at.getTime() <= Date.now()) {
        throw badRequest('at: must be in the future (use start to send now)', {
          at: ['must be in the future'],
        });
      }
      await requireRecipients(input.id);
      await requireWindowOrTemplate(input.id);
      if ((await requireCampaign(input.id)).attachment) requireMediaSending();
      await change(input.id, ['draft', 'scheduled'], { status: 'scheduled', scheduledAt: input.at });
      await opts.kicker.kick(input.id, input.at);
      return detail(input.id);
    },

    async start(id) {
      requireGateway();
      await requireRecipients(id);
      await requireWindowOrTemplate(id);
      if ((await requireCampaign(id)).attachment) requireMediaSending();
      await change(id, ['draft', 'scheduled'], { status: 'running', startedAt: new Date() });
      await opts.kicker.kick(id);
      return detail(id);
    },

    async pause(input, caller) {
      await change(input.id, ['running', 'scheduled'], {
        status: 'paused',
        pausedAt: new Date(),
        pausedReason: input.reason ?? `Paused by ${caller.name}`,
      });
      return detail(input.id);
    },

    async resume(id) {
      requireGateway();
      const c = await requireCampaign(id);
      await change(id, ['paused'], {
        status: 'running',
        pausedReason: null,
        startedAt: c.startedAt ?? new Date(),
      });
      await opts.kicker.kick(id);
      return detail(id);
    },

    async cancel(id) {
      await change(
        id,
        ['draft', 'scheduled', 'running', 'paused'],
        { status: 'cancelled', cancelledAt: new Date() },
        (tx) => q.skipPending(tx, id, 'cancelled', 'The campaign was cancelled'),
      );
      return detail(id);
    },

    async retryFailed(input) {
      const c = await requireCampaign(input.id);
      if (!['running', 'paused', 'completed'].includes(c.status)) {
        throw conflict(
          `Campaign ${c.id} is ${c.status}; only a started campaign has failed recipients to retry`,
        );
      }
      requireGateway();
      const requeued = await db.transaction(async (tx) => {
        const n = await q.requeueFailed(tx, c.id, input.includeUnknown);
        if (n > 0) {
          await q.transition(tx, c.id, ['completed'], { status: 'running', completedAt: null });
          await recordEvents(tx, [{ type: 'campaign.progress', campaignId: c.id }]);
        }
        return n;
      });
      if (requeued > 0) await opts.kicker.kick(c.id);
      return { requeued, campaign: await detail(c.id) };
    },

    get: detail,

    list: (filter) => q.listCampaigns(db, filter),

    async recipients(input) {
      await requireCampaign(input.id);
      const scope = `campaign-recipients:${input.id}:${input.status ?? ''}:${input.errorCode ?? ''}`;
      const rows = await q.recipientsPage(db, {
        campaignId: input.id,
        status: input.status,
        errorCode: input.errorCode,
        cursor: decodeCursor(scope, input.cursor, 'int4'),
        limit: input.limit,
      });
      return toPage(scope, rows, input.limit, ({ sortKey: _k, ...r }) => ({
        ...r,
        errorCode: r.errorCode as TCampaignRecipientPage['items'][number]['errorCode'],
      }));
    },

    progress,

    async *watch(id, o) {
      const every = o.intervalMs ?? 500;
      let last = '';
      while (!o.signal?.aborted) {
        // A draft deleted while watched ends the stream.
        if (!(await q.findCampaign(db, id))) return;
        const p = await progress(id);
        const key = JSON.stringify([p.status, p.pausedReason, p.figures]);
        if (key !== last) {
          last = key;
          yield p;
        }
        if (FINAL.includes(p.status)) return;
        await new Promise<void>((resolve) => {
          const timer = setTimeout(done, every);
          function done() {
            clearTimeout(timer);
            o.signal?.removeEventListener('abort', done);
            resolve();
          }
          o.signal?.addEventListener('abort', done, { once: true });
        });
      }
    },

    async delete(id) {
      const c = await requireCampaign(id);
      if (!(await q.deleteDraft(db, id))) {
        throw conflict(`Campaign ${id} is ${c.status}; only a draft can be deleted (cancel it instead)`);
      }
    },

    suggestCopy: (input) => suggestCopy(deps.copywriter, input),
  };

  /**
   * On the Cloud API, recipients outside the 24-hour window can only get the campaign's approved
   * template: without one (or with one no longer approved) the campaign is refused before it starts.
   */
  async function requireWindowOrTemplate(id: string) {
    if (opts.gatewayName !== 'whatsapp-cloud') return;
    const c = await requireCampaign(id);
    if (c.cloudTemplate) {
      await requireApprovedTemplate(db, c.cloudTemplate, 'cloudTemplate');
      return;
    }
    const outside = await q.countOutsideWindow(db, id, new Date(Date.now() - CUSTOMER_WINDOW_MS + 60_000));
    if (outside > 0) {
      throw new AppError(
        'PRECONDITION_FAILED',
        `${outside} recipient(s) are outside the WhatsApp Cloud API's 24-hour customer service window: give the campaign an approved cloudTemplate to reach them`,
      );
    }
  }

  async function requireRecipients(id: string) {
    const c = await requireCampaign(id);
    if (c.recipients === 0) throw badRequest(`Campaign ${id} has no recipients`);
  }
}
