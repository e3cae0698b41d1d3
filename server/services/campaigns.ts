import type { TCampaignSummary } from '../contracts';
import * as q from '../db/queries/campaigns';
import type { Db } from '../db/types';

export interface CampaignsService {
  list(filter: { status?: TCampaignSummary['status']; limit: number }): Promise<TCampaignSummary[]>;
}

export function createCampaignsService(deps: { db: Db }): CampaignsService {
  return { list: (filter) => q.listCampaigns(deps.db, filter) };
}
