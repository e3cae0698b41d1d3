import type postgres from 'postgres';
import { type TAppEvent, ZAppEvent } from '../contracts';
import * as q from '../db/queries/events';
import { EVENTS_CHANNEL } from '../db/queries/events';
import type { Db } from '../db/types';
import type { Logger } from '../logger';
import type { EventStream, StoredEvent, StreamOptions } from './types';

export type { EventStream, StoredEvent, StreamOptions };

export interface EventHub extends EventStream {
  start(): Promise<void>;
  /** Ends the open streams (their clients reconnect and resume); new ones may still start. */
  endStreams(): void;
  /** Ends every open stream and stops listening. */
  close(): Promise<void>;
  readonly subscriberCount: number;
}

export interface EventHubOptions {
  database: { db: Db; sql: postgres.Sql; mode: 'embedded' | 'postgres' };
  log: Logger;
  /** How long an id skipped in the log is waited for (a transaction that took it may still commit). */
  gapGraceMs?: number;
}

/** Embedded database: how often the log is read while someone listens. */
const POLL_MS = 250;
/** Postgres: a slow read as a safety net for missed notifications and late commits. */
const SAFETY_POLL_MS = 2000;
/** A subscriber that falls this many events behind is disconnected (it resumes from its last id). */
const MAX_QUEUE = 10_000;

interface Subscriber {
  conversationId: string | undefined;
  push(e: StoredEvent): void;
  end(): void;
}

/** Thrown into a stream the server ends, so the client reconnects instead of completing. */
export class DisconnectedError extends Error {
  override name = 'AbortError';
  constructor() {
    super('The event stream was closed by the server; reconnect to resume');
  }
}

const BATCH = 500;

const conversationOf = (e: TAppEvent) => ('conversationId' in e ? e.conversationId : undefined);
const MAX_GAPS = 10_000;

/**
 * One listener per process for the events log, fanned out in memory to every subscription.
 *
 * On Postgres it LISTENs on `wcb_events` (a connection of its own) and reads the log when notified,
 * so events written by any process reach every dashboard. On the embedded database it polls the log
 * while someone is subscribed. Ids come from a sequence, so a transaction can commit a smaller id
 * after a larger one is seen; such skipped ids are re-read for a grace period and delivered late
 * rather than lost.
 */
export function createEventHub(opts: EventHubOptions): EventHub {
  const { database, log } = opts;
  const { db } = database;
  const gapGraceMs = opts.gapGraceMs ?? 30_000;

  const subscribers = new Set<Subscriber>();
  /** Highest id fanned out; valid only while `ready`. */
  let cursor = 0;
  let ready = false;
  let readying: Promise<void> | null = null;
  const gaps = new Map<number, number>();
  let timer: NodeJS.Timeout | null = null;
  let fetching: Promise<void> | null = null;
  let fetchAgain = false;
  let closed = false;
  let listener: { unlisten(): Promise<void> } | null = null;

  function toStored(row: {
    id: number;
    payload: Record<string, unknown>;
    createdAt: Date;
  }): StoredEvent | null {
    const parsed = ZAppEvent.safeParse(row.payload);
    if (!parsed.success) {
      log.warn({ eventId: row.id }, 'skipping an event of unknown shape');
      return null;
    }
    return { id: row.id, at: row.createdAt, event: parsed.data };
  }

  function fanOut(e: StoredEvent) {
    for (const s of subscribers) {
      if (!s.conversationId || s.conversationId === conversationOf(e.event)) s.push(e);
    }
  }

  function noteGaps(from: number, to: number) {
    // Ids in (from, to) were skipped: wait for them a while (or forget them when far too many).
    if (to - from - 1 > MAX_GAPS) return;
    const until = Date.now() + gapGraceMs;
    for (let id = from + 1; id < to; id++) gaps.set(id, until);
  }

  /** Sets the cursor to the log's end; ids missing near the end are watched as possible late commits. */
  async function becomeReady() {
    const latest = await q.latestEventId(db);
    const floor = Math.max(0, latest - 1000);
    const present = await q.eventIdsAfter(db, floor);
    gaps.clear();
    let prev = floor;
    for (const id of present) {
      noteGaps(prev, id);
      prev = id;
    }
    cursor = latest;
    ready = true;
  }

  async function readLog() {
    do {
      fetchAgain = false;
      const now = Date.now();
      for (const [id, until] of gaps) if (until < now) gaps.delete(id);
      const rows = await q.eventsAfterOrIn(db, { afterId: cursor, ids: [...gaps.keys()], limit: BATCH });
      if (!ready || closed) return;
      // Fan-out and cursor move happen together, with no await between: a subscriber registering
      // meanwhile either gets these events live or finds them below the cursor and replays them.
      for (const row of rows) {
        if (row.id > cursor) {
          noteGaps(cursor, row.id);
          cursor = row.id;
        } else if (!gaps.delete(row.id)) {
          continue;
        }
        const e = toStored(row);
        if (e) fanOut(e);
      }
      if (rows.length === BATCH) fetchAgain = true;
    } while (fetchAgain && !closed);
  }

  /** Reads the log now, or once more right after a read in progress. */
  function poke() {
    if (!ready || closed || !subscribers.size) return;
    if (fetching) {
      fetchAgain = true;
      return;
    }
    fetching = readLog()
      .catch((err) => log.error({ err }, 'reading the events log failed'))
      .finally(() => {
        fetching = null;
      });
  }

  function startTimer() {
    if (timer || closed) return;
    timer = setInterval(poke, database.mode === 'embedded' ? POLL_MS : SAFETY_POLL_MS);
    timer.unref();
  }

  function goIdle() {
    if (subscribers.size) return;
    if (timer) clearInterval(timer);
    timer = null;
    ready = false;
    gaps.clear();
  }

  /** Makes the hub follow the log; resolves with the cursor a new subscriber's replay stops at. */
  async function follow(): Promise<number> {
    if (!ready) {
      readying ??= becomeReady().finally(() => {
        readying = null;
      });
      await readying;
    }
    startTimer();
    return cursor;
  }

  async function* stream(s: StreamOptions): AsyncGenerator<StoredEvent> {
    if (closed) throw new DisconnectedError();
    const queue: StoredEvent[] = [];
    let wake: (() => void) | null = null;
    let ended = false;
    const signalWake = () => wake?.();
    const sub: Subscriber = {
      conversationId: s.conversationId,
      push(e) {
        if (ended) return;
        if (queue.length >= MAX_QUEUE) {
          log.warn({ maxQueue: MAX_QUEUE }, 'a subscriber fell behind and was disconnected');
          sub.end();
          return;
        }
        queue.push(e);
        wake?.();
      },
      end() {
        ended = true;
        wake?.();
      },
    };
    subscribers.add(sub);
    s.signal?.addEventListener('abort', signalWake);
    try {
      const replayTo = await follow();
      const lastSeen = s.lastEventId ?? null;
      const replayed = new Set<number>();
      if (lastSeen !== null) {
        let after = lastSeen;
        while (after < replayTo && !ended && !s.signal?.aborted) {
          const rows = await q.eventsAfter(db, {
            afterId: after,
            upToId: replayTo,
            conversationId: s.conversationId,
            limit: BATCH,
          });
          for (const row of rows) {
            replayed.add(row.id);
            const e = toStored(row);
            if (e) yield e;
          }
          if (rows.length < BATCH) break;
          after = rows.at(-1)!.id;
        }
      }
      while (!ended && !s.signal?.aborted) {
        const e = queue.shift();
        if (!e) {
          await new Promise<void>((resolve) => {
            wake = resolve;
          });
          wake = null;
          continue;
        }
        // Below the replay's end: only late commits the replay did not see; above it: only what
        // this client has not seen yet (it may come from an instance that was ahead of this one).
        if (e.id <= replayTo ? replayed.has(e.id) : lastSeen !== null && e.id <= lastSeen) continue;
        yield e;
      }
      // Ended by the server (shutdown, or a subscriber too far behind) rather than by the client: an
      // AbortError closes the HTTP stream without a final "return", so the client reconnects and
      // resumes from its last event id, here or on another instance.
      if (ended && !s.signal?.aborted) throw new DisconnectedError();
    } finally {
      ended = true;
      s.signal?.removeEventListener('abort', signalWake);
      subscribers.delete(sub);
      goIdle();
    }
  }

  return {
    get subscriberCount() {
      return subscribers.size;
    },
    stream,
    async start() {
      if (database.mode !== 'postgres' || listener) return;
      // postgres.js keeps a dedicated connection for LISTEN and re-listens after reconnecting;
      // onlisten runs on each (re)connect, when notifications may have been missed.
      listener = await database.sql.listen(
        EVENTS_CHANNEL,
        () => poke(),
        () => poke(),
      );
    },
    endStreams() {
      for (const s of subscribers) s.end();
    },
    async close() {
      if (closed) return;
      closed = true;
      if (timer) clearInterval(timer);
      timer = null;
      for (const s of subscribers) s.end();
      await listener?.unlisten().catch(() => {});
      listener = null;
      await fetching;
    },
  };
}
