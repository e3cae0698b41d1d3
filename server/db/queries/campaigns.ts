import { desc, eq } from 'drizzle-orm';
import { type CampaignStatus, campaigns } from '../../../drizzle';
import type { DbOrTx } from '../types';

export function listCampaigns(db: DbOrTx, filter: { status?: CampaignStatus; limit: number }) {
  return db
    .select({
      id: campaigns.id,
      name: campaigns.name,
      status: campaigns.status,
      ratePerMinute: campaigns.ratePerMinute,
      scheduledAt: campaigns.scheduledAt,
      startedAt: campaigns.startedAt,
      completedAt: campaigns.completedAt,
      createdAt: campaigns.createdAt,
    })
    .from(campaigns)
    .where(filter.status ? eq(campaigns.status, filter.status) : undefined)
    .orderBy(desc(campaigns.createdAt), campaigns.id)
    .limit(filter.limit);
}
