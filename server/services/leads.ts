import type {
  TLead,
  TLeadAnalytics,
  TLeadAnalyticsInput,
  TLeadFunnel,
  TLeadListInput,
  TLeadRescoreInput,
  TLeadRescoreResult,
  TLeadScore,
  TLeadSetStatusInput,
  TLeadStatus,
} from '../contracts';
import * as acts from '../db/queries/activities';
import * as cq from '../db/queries/contacts';
import * as q from '../db/queries/leads';
import type { Db } from '../db/types';
import { notFound } from '../errors';
import type { Actor } from './actor';
import { type LeadScoringConfig, leadScoringConfig, scoreLead } from './lead-scoring';
import { decodeCursor, toPage } from './pagination';

export interface LeadsService {
  list(input: TLeadListInput): Promise<{ items: TLead[]; nextCursor: string | null }>;
  /** Changes a lead's status and records the change on its timeline. */
  setStatus(input: TLeadSetStatusInput, actor: Actor): Promise<{ changed: boolean; lead: TLead }>;
  /** The score the rules give one contact now, rule by rule (nothing is stored). */
  score(contactId: string): Promise<TLeadScore>;
  /** Recomputes and stores score and breakdown for every matching contact. */
  rescore(input: TLeadRescoreInput): Promise<TLeadRescoreResult>;
  funnel(period: { from?: Date; to?: Date }): Promise<TLeadFunnel>;
  analytics(input: TLeadAnalyticsInput): Promise<TLeadAnalytics>;
}

const toLead = (c: {
  id: string;
  phone: string;
  name: string | null;
  email: string | null;
  company: string | null;
  leadStatus: TLeadStatus;
  leadScore: number;
  source: string;
  tags: string[];
  lastInboundAt: Date | null;
  createdAt: Date;
}): TLead => ({
  id: c.id,
  phone: c.phone,
  name: c.name,
  email: c.email,
  company: c.company,
  leadStatus: c.leadStatus,
  leadScore: c.leadScore,
  source: c.source,
  tags: c.tags,
  lastInboundAt: c.lastInboundAt,
  createdAt: c.createdAt,
});

const RESCORE_BATCH = 500;
const ratio = (n: number, d: number) => (d > 0 ? Math.round((n / d) * 10_000) / 10_000 : null);

export function createLeadsService(deps: { db: Db; scoring?: Partial<LeadScoringConfig> }): LeadsService {
  const { db } = deps;
  const config = leadScoringConfig(deps.scoring);

  return {
    async list(input) {
      const scope = `leads:${input.sort}`;
      const after = decodeCursor(scope, input.cursor, cq.contactSortKeyType(input.sort));
      const rows = await cq.listContacts(db, { ...input, leadStatus: input.status, after });
      return toPage(scope, rows, input.limit, toLead);
    },

    setStatus(input, actor) {
      return db.transaction(async (tx) => {
        const before = await cq.lockContactStatus(tx, input.contactId);
        if (!before) throw notFound('Contact', input.contactId);
        if (before.leadStatus === input.status) {
          const lead = await cq.findContact(tx, input.contactId);
          return { changed: false, lead: toLead(lead!) };
        }
        const updated = await cq.updateContact(tx, input.contactId, { leadStatus: input.status });
        if (!updated) throw notFound('Contact', input.contactId);
        await acts.insertActivity(tx, {
          contactId: input.contactId,
          type: q.STATUS_CHANGE_ACTIVITY,
          summary:
            `Lead status changed from ${before.leadStatus} to ${input.status}${input.reason ? `: ${input.reason}` : ''}`.slice(
              0,
              500,
            ),
          metadata: { from: before.leadStatus, to: input.status, reason: input.reason ?? null },
          actorType: actor.type,
          actorId: actor.id,
        });
        return { changed: true, lead: toLead(updated) };
      });
    },

    async score(contactId) {
      const contact = await cq.findContactDetail(db, contactId);
      if (!contact) throw notFound('Contact', contactId);
      const [facts] = await q.scoringFacts(db, [contactId]);
      const { score, breakdown } = scoreLead(facts!, config, new Date());
      return { contactId, score, breakdown, storedScore: contact.leadScore, scoredAt: contact.scoredAt };
    },

    async rescore(input) {
      let afterId: string | null = null;
      let scored = 0;
      let changed = 0;
      const now = new Date();
      for (;;) {
        const ids = await q.contactIdsToScore(db, { ...input, afterId, limit: RESCORE_BATCH });
        if (!ids.length) break;
        const facts = await q.scoringFacts(db, ids);
        const rows = facts.map((f) => ({ id: f.id, ...scoreLead(f, config, now) }));
        changed += await cq.setLeadScores(db, rows, now);
        scored += rows.length;
        if (ids.length < RESCORE_BATCH) break;
        afterId = ids.at(-1)!;
      }
      return { scored, changed };
    },

    async funnel(period) {
      const rows = await q.funnelCounts(db, period);
      const total = rows.reduce((n, r) => n + r.count, 0);
      const stages = q.FUNNEL.map((status, rank) => ({
        status,
        current: rows.filter((r) => r.status === status).reduce((n, r) => n + r.count, 0),
        reached: rows.filter((r) => r.reachedRank >= rank).reduce((n, r) => n + r.count, 0),
        conversion: null as number | null,
      }));
      stages.forEach((s, i) => {
        if (i > 0) s.conversion = ratio(s.reached, stages[i - 1]!.reached);
      });
      const lost = rows.filter((r) => r.status === 'lost').reduce((n, r) => n + r.count, 0);
      return { from: period.from ?? null, to: period.to ?? null, total, stages, lost };
    },

    async analytics(input) {
      const [bySource, byPeriod] = await Promise.all([
        q.leadsBySource(db, input),
        q.leadsByPeriod(db, { from: input.from, to: input.to, unit: input.groupBy }),
      ]);
      return { bySource, byPeriod };
    },
  };
}
