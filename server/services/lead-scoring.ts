import type { TScoreBreakdownItem } from '../contracts';
import type { ScoringFacts } from '../db/queries/leads';

/**
 * The lead-scoring rules, all in this module. Each rule gives points and says why, so a score can be
 * explained line by line. The points are DEFAULT_LEAD_SCORING below: change them there to weigh the
 * rules differently.
 */
export interface LeadScoringConfig {
  /** Engagement: points per inbound message, up to a maximum. */
  replies: { pointsEach: number; max: number };
  /** Engagement: points for the latest inbound message's age; the first matching tier applies. */
  recency: { withinDays: number; points: number }[];
  /** Profile completeness: points for each field that is filled in. */
  profile: { name: number; email: number; company: number; position: number };
  /** Deal value: points for the highest deal that is not lost; the first tier it reaches applies. */
  dealValue: { atLeast: string; points: number }[];
  /** Campaign replies: points per campaign the contact answered, up to a maximum. */
  campaignReplies: { pointsEach: number; max: number };
  /** Sales activity: points per task about the contact that is done, up to a maximum. */
  doneTasks: { pointsEach: number; max: number };
  /** The model's latest assessment: its 0–100 score times this factor, rounded. */
  qualification: { factor: number };
  /** The score is capped here. */
  maxScore: number;
}

export const DEFAULT_LEAD_SCORING: LeadScoringConfig = {
  replies: { pointsEach: 2, max: 20 },
  recency: [
    { withinDays: 1, points: 15 },
    { withinDays: 7, points: 10 },
    { withinDays: 30, points: 5 },
  ],
  profile: { name: 5, email: 10, company: 10, position: 5 },
  dealValue: [
    { atLeast: '10000', points: 25 },
    { atLeast: '1000', points: 15 },
    { atLeast: '0.01', points: 5 },
  ],
  campaignReplies: { pointsEach: 5, max: 15 },
  doneTasks: { pointsEach: 3, max: 9 },
  qualification: { factor: 0.2 },
  maxScore: 100,
};

/** Compares two non-negative decimal strings exactly (money is never turned into a float). */
export function compareDecimal(a: string, b: string): number {
  const [ai = '0', af = ''] = a.split('.');
  const [bi = '0', bf = ''] = b.split('.');
  const ia = ai.replace(/^0+(?=\d)/, '');
  const ib = bi.replace(/^0+(?=\d)/, '');
  if (ia.length !== ib.length) return ia.length < ib.length ? -1 : 1;
  if (ia !== ib) return ia < ib ? -1 : 1;
  const len = Math.max(af.length, bf.length);
  const fa = af.padEnd(len, '0');
  const fb = bf.padEnd(len, '0');
  return fa === fb ? 0 : fa < fb ? -1 : 1;
}

const DAY_MS = 86_400_000;

export function scoreLead(
  facts: ScoringFacts,
  config: LeadScoringConfig,
  now: Date,
): { score: number; breakdown: TScoreBreakdownItem[] } {
  const breakdown: TScoreBreakdownItem[] = [];
  const add = (rule: string, points: number, detail: string) => breakdown.push({ rule, points, detail });

  const replyPoints = Math.min(facts.inboundCount * config.replies.pointsEach, config.replies.max);
  add(
    'engagement.replies',
    replyPoints,
    `${facts.inboundCount} inbound message${facts.inboundCount === 1 ? '' : 's'} × ${config.replies.pointsEach} (max ${config.replies.max})`,
  );

  if (facts.lastInboundAt) {
    const days = (now.getTime() - facts.lastInboundAt.getTime()) / DAY_MS;
    const tier = config.recency.find((t) => days <= t.withinDays);
    add(
      'engagement.recency',
      tier?.points ?? 0,
      tier
        ? `last message within ${tier.withinDays} day${tier.withinDays === 1 ? '' : 's'}`
        : `last message ${Math.floor(days)} days ago`,
    );
  } else {
    add('engagement.recency', 0, 'no inbound message yet');
  }

  const p = config.profile;
  const name = facts.name ?? facts.pushName;
  add('profile.name', name ? p.name : 0, name ? 'name known' : 'no name');
  add('profile.email', facts.email ? p.email : 0, facts.email ? 'email known' : 'no email');
  add('profile.company', facts.company ? p.company : 0, facts.company ? 'company known' : 'no company');
  add('profile.position', facts.position ? p.position : 0, facts.position ? 'position known' : 'no position');

  if (facts.topDealValue !== null) {
    const value = facts.topDealValue;
    const tier = config.dealValue.find((t) => compareDecimal(value, t.atLeast) >= 0);
    add(
      'deal.value',
      tier?.points ?? 0,
      tier ? `highest open or won deal ${value} (at least ${tier.atLeast})` : `highest deal ${value}`,
    );
  } else {
    add('deal.value', 0, 'no deal');
  }

  const campaignPoints = Math.min(
    facts.campaignReplies * config.campaignReplies.pointsEach,
    config.campaignReplies.max,
  );
  add(
    'campaign.replies',
    campaignPoints,
    `${facts.campaignReplies} campaign repl${facts.campaignReplies === 1 ? 'y' : 'ies'} × ${config.campaignReplies.pointsEach} (max ${config.campaignReplies.max})`,
  );

  // The two rules below show only when they apply (a contact with no done task or assessment).
  const doneTasks = facts.doneTasks ?? 0;
  if (doneTasks > 0) {
    add(
      'activity.tasks',
      Math.min(doneTasks * config.doneTasks.pointsEach, config.doneTasks.max),
      `${doneTasks} task${doneTasks === 1 ? '' : 's'} done × ${config.doneTasks.pointsEach} (max ${config.doneTasks.max})`,
    );
  }
  if (facts.qualificationScore != null) {
    add(
      'qualification',
      Math.round(facts.qualificationScore * config.qualification.factor),
      `latest assessment ${facts.qualificationScore}/100 × ${config.qualification.factor}`,
    );
  }

  const total = breakdown.reduce((n, b) => n + b.points, 0);
  const score = Math.max(0, Math.min(total, config.maxScore));
  if (score !== total) add('cap', score - total, `capped at ${config.maxScore}`);
  return { score, breakdown };
}
