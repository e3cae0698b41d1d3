import type { TLead, TLeadStatus } from '../contracts';
import * as q from '../db/queries/contacts';
import type { Db } from '../db/types';

export interface LeadsService {
  list(filter: { status?: TLeadStatus; limit: number }): Promise<TLead[]>;
}

export function createLeadsService(deps: { db: Db }): LeadsService {
  return { list: (filter) => q.listLeads(deps.db, filter) };
}
