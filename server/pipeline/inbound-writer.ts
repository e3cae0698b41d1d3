import * as mq from '../db/queries/messages';
import type { Db } from '../db/types';

export type InboundWrite = Exclude<mq.StoreInboundResult, { kind: 'retry' }>;

export interface InboundWriter {
  /** Stores one customer's message; resolves once it is committed (or known as a duplicate). */
  store(message: mq.InboundToStore): Promise<InboundWrite>;
}

interface Waiting {
  message: mq.InboundToStore;
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
 * A contact (phone, or LID without a phone) is in one running statement at most, and a provider id in
 * one statement at most, so one customer's messages are stored in the order they arrived: several of
 * them may share a statement (a webhook with thousands of messages from one customer takes a
 * statement per `maxBatch` of them, not one each), and the statement keeps their order.
 * When a batch statement fails, its messages are written one at a time (each customer's in order),
 * so one bad message cannot fail the others.
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
  const keysOf = (m: mq.InboundToStore) => [`c:${m.phone ?? m.lid}`, `m:${m.providerMessageId}`];

  /**
   * The oldest waiting messages whose contact and provider id are in no running statement, with no
   * provider id twice (a contact may come many times).
   */
  function takeBatch(): { batch: Waiting[]; keys: string[] } {
    const batch: Waiting[] = [];
    const chosen = new Set<string>();
    // A message passed over blocks its contact for the rest of this pass, so a customer's messages
    // are never taken out of order.
    const passed = new Set<string>();
    const left: Waiting[] = [];
    let i = 0;
    for (; i < waiting.length && batch.length < opts.maxBatch; i++) {
      const w = waiting[i]!;
      const own = keysOf(w.message);
      if (own.some((k) => busy.has(k) || passed.has(k)) || chosen.has(own[1]!)) {
        for (const k of own) passed.add(k);
        left.push(w);
        continue;
      }
      for (const k of own) chosen.add(k);
      batch.push(w);
    }
    // One pass over the queue (splicing each taken message out would cost its length each time).
    waiting.splice(0, i, ...left);
    for (const k of chosen) busy.add(k);
    return { batch, keys: [...chosen] };
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
    let results: mq.StoreInboundResult[];
    try {
      results = await mq.storeInboundMessages(
        db,
        replyQueue,
        batch.map((w) => w.message),
      );
    } catch (err) {
      if (batch.length === 1) {
        batch[0]!.reject(err);
        return;
      }
      // Each message alone, so only a message that cannot be stored fails: customers side by side,
      // each customer's messages one after another, in order.
      const byContact = new Map<string, Waiting[]>();
      for (const w of batch) {
        const key = keysOf(w.message)[0]!;
        const ws = byContact.get(key);
        if (ws) ws.push(w);
        else byContact.set(key, [w]);
      }
      await Promise.all(
        [...byContact.values()].map(async (ws) => {
          for (const w of ws) await runAlone(w);
        }),
      );
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

  /** One message in its own statement, run again (up to `MAX_ATTEMPTS`) while it says `retry`. */
  async function runAlone(w: Waiting) {
    for (;;) {
      let r: mq.StoreInboundResult;
      try {
        [r] = (await mq.storeInboundMessages(db, replyQueue, [w.message])) as [mq.StoreInboundResult];
      } catch (err) {
        w.reject(err);
        return;
      }
      if (r.kind !== 'retry') return w.resolve(r);
      if (++w.attempts >= MAX_ATTEMPTS)
        return w.reject(new Error('Could not store an inbound message: concurrent writes kept conflicting'));
    }
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
