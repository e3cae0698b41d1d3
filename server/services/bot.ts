import type { TBotStatus, TBotStatusInput } from '../contracts';
import * as q from '../db/queries/conversations';
import type { Db } from '../db/types';
import { badRequest, notFound } from '../errors';
import { toE164 } from '../phone';

export interface BotService {
  status(input: TBotStatusInput): Promise<TBotStatus>;
}

export function createBotService(deps: { db: Db; defaultRegion: string }): BotService {
  return {
    async status(input) {
      let by: { id: string } | { phone: string };
      if ('conversationId' in input) by = { id: input.conversationId };
      else {
        const phone = toE164(input.phone, deps.defaultRegion);
        if (!phone) throw badRequest(`phone: "${input.phone}" is not a valid phone number`);
        by = { phone };
      }
      const row = await q.findConversationWithPhone(deps.db, by);
      if (!row) throw notFound('Conversation');
      return {
        conversationId: row.id,
        contactId: row.contactId,
        phone: row.phone,
        owner: row.owner,
        botActive: row.owner === 'bot',
        ownerSince: row.ownerSince,
        ownerReason: row.ownerReason,
        botResumesAt: row.botResumesAt,
      };
    },
  };
}
