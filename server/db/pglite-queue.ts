import type { PGlite } from '@electric-sql/pglite';
import type { PGLiteSocketServer } from '@electric-sql/pglite-socket';

interface Item {
  handlerId: number;
  message: Uint8Array;
  onData(data: Uint8Array): void;
  resolve(bytes: number): void;
  reject(err: unknown): void;
}

const READY_FOR_QUERY = 0x5a; // 'Z'
const PARSE = 0x50; // 'P'
const EXECUTE = 0x45; // 'E'
/** A client that holds the engine outside a transaction yet sends nothing lets it go after this long. */
const IDLE_HOLD_MS = 1000;

/**
 * The order in which the loopback socket's clients reach the embedded engine.
 *
 * PGlite is one Postgres session shared by every socket client, so its unnamed prepared statement and
 * unnamed portal are shared too. pglite-socket's own queue interleaves clients message by message: one
 * client's Bind can land between another's Parse and Execute, and that client then runs the wrong
 * statement ("bind message supplies 1 parameters, but prepared statement requires 2", or worse, a
 * wrong result). This queue gives the engine to one client from its first message until the engine
 * answers ReadyForQuery (the end of a simple query, of an extended-protocol exchange at Sync, of a COPY,
 * or of the start-up), for as long as that client's transaction stays open, and from its Parse of the
 * unnamed statement until it executes it (postgres.js describes such a statement in one exchange and
 * runs it in the next). A client that holds the engine outside a transaction but goes quiet loses it
 * after a moment, so one stuck client cannot stop the others.
 */
export class ExchangeQueue {
  private queue: Item[] = [];
  private processing = false;
  /** The client that has the engine until it is ready for another client. */
  private owner: number | null = null;
  /** The owner has parsed the unnamed statement and not yet executed it. */
  private unnamedPending = false;
  private idleTimer: NodeJS.Timeout | null = null;

  constructor(private readonly db: PGlite) {}

  enqueue(handlerId: number, message: Uint8Array, onData: (data: Uint8Array) => void): Promise<number> {
    return new Promise((resolve, reject) => {
      this.queue.push({ handlerId, message, onData, resolve, reject });
      void this.process();
    });
  }

  getQueueLength() {
    return this.queue.length;
  }

  clearQueueForHandler(handlerId: number) {
    this.queue = this.queue.filter((item) => {
      if (item.handlerId !== handlerId) return true;
      item.reject(new Error('Handler disconnected'));
      return false;
    });
  }

  /** A client that leaves mid-exchange or mid-transaction gives the engine back, rolled back. */
  async clearTransactionIfNeeded(handlerId: number) {
    if (this.owner !== handlerId) return;
    if (this.db.isInTransaction()) await this.db.exec('ROLLBACK');
    this.release();
    await this.process();
  }

  private release() {
    this.owner = null;
    this.unnamedPending = false;
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = null;
  }

  private next(): Item | undefined {
    if (this.owner === null) return this.queue.shift();
    const i = this.queue.findIndex((item) => item.handlerId === this.owner);
    return i === -1 ? undefined : this.queue.splice(i, 1)[0];
  }

  private async process() {
    if (this.processing) return;
    this.processing = true;
    try {
      for (let item = this.next(); item; item = this.next()) {
        const current = item;
        if (this.idleTimer) clearTimeout(this.idleTimer);
        this.idleTimer = null;
        const type = current.message[0];
        if (type === PARSE) this.unnamedPending = current.message[5] === 0;
        else if (type === EXECUTE) this.unnamedPending = false;
        const ready = readyScanner();
        try {
          const bytes = await this.db.runExclusive(async () => {
            let n = 0;
            await this.db.execProtocolRawStream(current.message, {
              onRawData: (data) => {
                n += data.length;
                ready.feed(data);
                current.onData(data);
              },
            });
            return n;
          });
          if (ready.seen() && !this.db.isInTransaction() && !this.unnamedPending) this.release();
          else this.owner = current.handlerId;
          current.resolve(bytes);
        } catch (err) {
          if (this.db.isInTransaction()) this.owner = current.handlerId;
          else this.release();
          current.reject(err);
        }
      }
    } finally {
      this.processing = false;
    }
    // Others wait while the owner sends nothing: outside a transaction, only for a moment.
    if (this.owner !== null && this.queue.length > 0 && !this.idleTimer && !this.db.isInTransaction()) {
      this.idleTimer = setTimeout(() => {
        this.idleTimer = null;
        if (this.db.isInTransaction()) return;
        this.release();
        void this.process();
      }, IDLE_HOLD_MS);
      this.idleTimer.unref();
    }
  }
}

/** Walks the engine's reply message by message (type byte, then a length) to see ReadyForQuery. */
function readyScanner() {
  let seen = false;
  let skip = 0;
  const header: number[] = [];
  return {
    feed(data: Uint8Array) {
      let i = 0;
      while (i < data.length) {
        if (skip > 0) {
          const n = Math.min(skip, data.length - i);
          skip -= n;
          i += n;
          continue;
        }
        header.push(data[i++]!);
        if (header.length === 5) {
          if (header[0] === READY_FOR_QUERY) seen = true;
          skip = ((header[1]! << 24) | (header[2]! << 16) | (header[3]! << 8) | header[4]!) - 4;
          header.length = 0;
        }
      }
    },
    seen: () => seen,
  };
}

/**
 * Puts an ExchangeQueue in place of the socket server's own queue, before it takes connections. The
 * server hands its `queryQueue` to each connection's handler (pglite-socket 0.2.x).
 */
export function useExchangeQueue(server: PGLiteSocketServer, db: PGlite) {
  const s = server as unknown as { queryQueue?: unknown };
  if (!s.queryQueue) {
    throw new Error(
      'pglite-socket changed: its server has no queryQueue to replace (see server/db/pglite-queue.ts)',
    );
  }
  s.queryQueue = new ExchangeQueue(db);
}
