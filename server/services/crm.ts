import type { TContact, TContactCreateInput } from '../contracts';
import * as q from '../db/queries/contacts';
import type { Db } from '../db/types';
import { badRequest, conflict, isUniqueViolation, notFound } from '../errors';
import { toE164 } from '../phone';

export interface CrmService {
  createContact(input: TContactCreateInput): Promise<TContact>;
  getContact(id: string): Promise<TContact>;
}

export function createCrmService(deps: { db: Db; defaultRegion: string }): CrmService {
  const { db, defaultRegion } = deps;
  return {
    async createContact(input) {
      const phone = toE164(input.phone, defaultRegion);
      if (!phone) {
        throw badRequest(`phone: "${input.phone}" is not a valid phone number`, {
          phone: ['is not a valid phone number'],
        });
      }
      try {
        const created = await q.insertContact(db, {
          phone,
          name: input.name ?? null,
          email: input.email ?? null,
          company: input.company ?? null,
          position: input.position ?? null,
          leadStatus: input.leadStatus ?? 'new',
          source: input.source ?? 'manual',
          tags: input.tags ? [...new Set(input.tags)] : [],
          notes: input.notes ?? null,
        });
        if (created) return created;
      } catch (err) {
        if (!isUniqueViolation(err)) throw err;
      }
      throw conflict(`A contact with phone ${phone} already exists`);
    },
    async getContact(id) {
      const row = await q.findContact(db, id);
      if (!row) throw notFound('Contact', id);
      return row;
    },
  };
}
