import * as pq from '../db/queries/pipeline';
import type { Db } from '../db/types';

export type InboundWrite = Exclude<pq.StoreInboundResult, { kind: 'retry' }>;

export interface InboundWriter {
  /** Stores one customer's message; resolves once it is committed (or known as a duplicate). */
  store(message: pq.InboundToStore): Promise<InboundWrite>;
}

interface Waiting {
  message: pq.InboundToStore;
  attempts: number;
  resolve(r: InboundWrite): void;
  reject(err: unknown): void;
}

const MAX_ATTEMPTS = 5;

/**
 * Writes inbound messages with as few statements as the load allows. While fewer than `maxInFlight`
 * statements run, a message is written at once, alone; when webhooks arrive faster than that, the ones
 * waiting go together in the next statement (up to `maxBatch`). A quiet server adds no delay; a busy
 * one spends one round trip, one plan and one commit on many messages instead of one each.
 *
 * A contact (phone, or LID without a phone) and a provider id are in one running statement at most,
 * so one customer's messages are stored one after another, in the order they arrived.
 * When a batch statement fails, its messages are written one by one, so one bad message cannot fail
 * the others.
 */
export function createInboundWriter(
  db: Db,
  replyQueue: string,
  opts: { maxInFlight: number; maxBatch: number },
): InboundWriter {
  const waiting: Waiting[] = [];
  let inFlight = 0;
  /** Contacts and provider ids of the statements running now. */
  const busy = new Set<string>();
  const keysOf = (m: pq.InboundToStore) => [`c:${m.phone ?? m.lid}`, `m:${m.providerMessageId}`];

  /** The oldest waiting messages whose contact and provider id are in no running or chosen statement. */
  function takeBatch(): { batch: Waiting[]; keys: string[] } {
    const batch: Waiting[] = [];
    const keys: string[] = [];
    // A message passed over blocks its contact for the rest of this pass, so a customer's messages
    // are never taken out of order.
    const passed = new Set<string>();
    for (let i = 0; i < waiting.length && batch.length < opts.maxBatch; ) {
      const w = waiting[i]!;
      const own = keysOf(w.message);
      if (own.some((k) => busy.has(k) || passed.has(k))) {
        for (const k of own) passed.add(k);
        i++;
        continue;
      }
      for (const k of own) busy.add(k);
      keys.push(...own);
      batch.push(w);
      waiting.splice(i, 1);
    }
    return { batch, keys };
  }

  function pump() {
    while (inFlight < opts.maxInFlight && waiting.length) {
      const { batch, keys } = takeBatch();
      if (!batch.length) return; // everything waiting belongs to a running statement's contacts
      inFlight++;
      run(batch).finally(() => {
        for (const k of keys) busy.delete(k);
        inFlight--;
        pump();
      });
    }
  }

  async function run(batch: Waiting[]) {
    let results: pq.StoreInboundResult[];
    try {
      results = await pq.storeInboundMessages(
        db,
        replyQueue,
        batch.map((w) => w.message),
      );
    } catch (err) {
      if (batch.length === 1) {
        batch[0]!.reject(err);
        return;
      }
      // Each message alone, so only a message that cannot be stored fails.
      await Promise.all(batch.map((w) => run([w])));
      return;
    }
    const again: Waiting[] = [];
    batch.forEach((w, i) => {
      const r = results[i]!;
      if (r.kind !== 'retry') w.resolve(r);
      else if (++w.attempts >= MAX_ATTEMPTS)
        w.reject(new Error('Could not store an inbound message: concurrent writes kept conflicting'));
      else again.push(w);
    });
    // A retry goes first: the rows it waited for are committed now.
    waiting.unshift(...again);
  }

  return {
    store(message) {
      return new Promise<InboundWrite>((resolve, reject) => {
        waiting.push({ message, attempts: 0, resolve, reject });
        pump();
      });
    },
  };
}
