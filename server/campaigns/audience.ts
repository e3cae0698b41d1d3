import type { CampaignAudience, CampaignAudienceReport } from '../../drizzle';
import type { TCampaignCreateInput } from '../contracts';
import * as q from '../db/queries/campaigns';
import type { DbOrTx } from '../db/types';
import { badRequest } from '../errors';
import type { ParsedNumbers, Problem } from './numbers';

export interface AudienceMember {
  contactId: string;
  phone: string;
  variables: Record<string, string>;
}

export interface ResolvedAudience {
  members: AudienceMember[];
  audience: CampaignAudience;
  report: CampaignAudienceReport;
}

/** How many problems of each kind are kept for the preview (the counts are exact). */
const LISTED = 1000;

/**
 * Turns an audience into recipients, in this order: the numbers (unknown ones become contacts with
 * source `campaign`), the contact ids, then contacts with the tags or lead statuses. Each contact is
 * a recipient once; later mentions count as duplicates.
 */
export async function resolveAudience(
  tx: DbOrTx,
  input: TCampaignCreateInput['audience'],
  numbers: ParsedNumbers | null,
  maxRecipients: number,
): Promise<ResolvedAudience> {
  const members = new Map<string, AudienceMember>();
  const invalid: Problem[] = [...(numbers?.invalid ?? [])];
  const duplicates: Problem[] = [...(numbers?.duplicates ?? [])];
  const add = (m: AudienceMember, line: number | null, source: string) => {
    if (members.has(m.contactId)) {
      duplicates.push({ line, value: m.phone, reason: `already in the audience (${source})` });
      return;
    }
    members.set(m.contactId, m);
    if (members.size > maxRecipients) {
      throw badRequest(`audience: has more than ${maxRecipients} recipients`, {
        audience: [`at most ${maxRecipients} recipients`],
      });
    }
  };

  for (let i = 0; numbers && i < numbers.rows.length; i += 1000) {
    const batch = numbers.rows.slice(i, i + 1000);
    const found = new Map(
      (
        await q.contactsForNumbers(
          tx,
          batch.map((r) => ({ phone: r.phone, ...r.contact })),
        )
      ).map((c) => [c.phone, c]),
    );
    for (const row of batch) {
      const c = found.get(row.phone)!;
      if (c.deletedAt)
        invalid.push({
          line: row.line,
          value: row.phone,
          reason: 'the contact with this number was deleted',
        });
      else add({ contactId: c.id, phone: c.phone, variables: row.variables }, row.line, 'numbers');
    }
  }

  const ids = [...new Set(input.contactIds)];
  if (ids.length < input.contactIds.length) {
    const seen = new Set<string>();
    for (const id of input.contactIds) {
      if (seen.has(id)) duplicates.push({ line: null, value: id, reason: 'contact id listed twice' });
      seen.add(id);
    }
  }
  for (let i = 0; i < ids.length; i += 5000) {
    const batch = ids.slice(i, i + 5000);
    const found = new Map((await q.activeContactsByIds(tx, batch)).map((c) => [c.id, c]));
    for (const id of batch) {
      const c = found.get(id);
      if (!c) invalid.push({ line: null, value: id, reason: 'no contact has this id' });
      else if (c.deletedAt) invalid.push({ line: null, value: id, reason: 'the contact was deleted' });
      else add({ contactId: c.id, phone: c.phone, variables: {} }, null, 'contact ids');
    }
  }

  for (const c of await q.contactsBySegment(tx, { tags: input.tags, leadStatuses: input.leadStatuses })) {
    add({ contactId: c.id, phone: c.phone, variables: {} }, null, 'tags or lead statuses');
  }

  return {
    members: [...members.values()],
    audience: {
      ...(input.contactIds.length ? { contactIds: ids } : {}),
      ...(input.tags.length ? { tags: input.tags } : {}),
      ...(input.leadStatuses.length ? { leadStatuses: input.leadStatuses } : {}),
      ...(numbers ? { numbers: { lines: numbers.lines, columns: numbers.columns } } : {}),
    },
    report: {
      invalid: invalid.slice(0, LISTED),
      duplicates: duplicates.slice(0, LISTED),
      invalidCount: invalid.length,
      duplicateCount: duplicates.length,
    },
  };
}
