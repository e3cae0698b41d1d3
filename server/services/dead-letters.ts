import type { TDeadLetter, TDeadLetterPage, TDeadLettersInput, TRetriedDeadLetter } from '../contracts';
import type { PipelineDeps } from '../conversation/deps';
import * as dq from '../db/queries/dead-letters';
import { conflict, notFound } from '../errors';
import { CLOUD_EVENT, parseCloudWebhook } from '../pipeline/cloud-payload';
import { type IngestOutcome, ingestItems } from '../pipeline/ingest';
import { parseWebhook } from '../pipeline/payload';
import type { Caller } from './caller';
import { decodeCursor, toPage } from './pagination';

/**
 * Dead letters: gateway items that could not be handled, kept with the raw item and the reason
 * (written by the webhook's ingest, server/pipeline/ingest.ts). Admins see them, retry them once the
 * cause is fixed (a sender became known, a bug was fixed), or dismiss them.
 */
export interface DeadLettersService {
  list(input: TDeadLettersInput): Promise<TDeadLetterPage>;
  /**
   * Parses the raw item again and stores it as a fresh webhook would. On success the dead letter is
   * resolved; on failure its attempts go up and the error is kept. Resolved ones cannot be retried.
   */
  retry(id: string, caller: Caller): Promise<TRetriedDeadLetter>;
  /** Resolves an open dead letter without retrying it (noted with who did it). */
  dismiss(id: string, caller: Caller): Promise<TDeadLetter>;
  countOpen(): Promise<number>;
}

const SCOPE = 'dead-letters';

/** What a retry did with an item, or why it did not store it (null reason: it was handled). */
function describe(outcome: IngestOutcome): { ok: boolean; detail: string } {
  switch (outcome.kind) {
    case 'stored':
      return { ok: true, detail: `stored as message ${outcome.messageId}` };
    case 'agent':
      return { ok: true, detail: `stored as a message from the business phone ${outcome.messageId}` };
    case 'echo':
      return { ok: true, detail: `matched our own sent message ${outcome.messageId}` };
    case 'duplicate':
      return { ok: true, detail: 'the message is stored already' };
    case 'status':
      return { ok: true, detail: outcome.updated ? 'status applied' : 'status for an unknown message' };
    case 'ignored':
      return { ok: true, detail: `nothing to store: ${outcome.reason}` };
    case 'dead-letter':
      return { ok: false, detail: outcome.reason };
  }
}

export function createDeadLettersService(pipeline: PipelineDeps): DeadLettersService {
  const { db } = pipeline;

  async function requireOpen(id: string) {
    const row = await dq.findDeadLetter(db, id);
    if (!row) throw notFound('Dead letter', id);
    if (row.resolvedAt) throw conflict(`Dead letter ${id} is resolved already`);
    return row;
  }

  return {
    async list(input) {
      const rows = await dq.listDeadLetters(db, {
        open: input.filter === 'open',
        limit: input.limit,
        after: decodeCursor(`${SCOPE}:${input.filter}`, input.cursor, 'timestamptz'),
      });
      return toPage(`${SCOPE}:${input.filter}`, rows, input.limit, ({ sortKey: _, ...row }) => row);
    },

    async retry(id, caller) {
      const row = await requireOpen(id);
      const raw = row.raw as { event?: unknown; data?: unknown } | null;
      const parsed = raw?.event === CLOUD_EVENT ? parseCloudWebhook(raw.data) : parseWebhook(row.raw);
      let result: { ok: boolean; detail: string };
      if (!parsed.ok) result = { ok: false, detail: parsed.error };
      else if (parsed.items.length === 0) result = { ok: true, detail: 'nothing to store in this item' };
      else {
        const outcomes = await ingestItems(pipeline, parsed.items, { deadLetters: false });
        const described = outcomes.map(describe);
        const failed = described.find((d) => !d.ok);
        result = failed ?? { ok: true, detail: described.map((d) => d.detail).join('; ') };
      }
      const updated = await dq.recordDeadLetterAttempt(db, id, {
        error: result.ok ? null : result.detail.slice(0, 1000),
        resolved: result.ok,
      });
      // Another admin resolved it meanwhile: what this retry did stands, the row says who was first.
      const deadLetter = updated ?? (await dq.findDeadLetter(db, id));
      if (!deadLetter) throw notFound('Dead letter', id);
      pipeline.log.info({ deadLetterId: id, resolved: result.ok, caller: caller.id }, 'dead letter retried');
      return { resolved: result.ok, detail: result.detail, deadLetter };
    },

    async dismiss(id, caller) {
      await requireOpen(id);
      const row = await dq.dismissDeadLetter(db, id, `dismissed by ${caller.name} (${caller.id})`);
      if (!row) throw conflict(`Dead letter ${id} is resolved already`);
      return row;
    },

    countOpen: () => dq.countOpenDeadLetters(db),
  };
}
