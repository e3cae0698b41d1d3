import type { TAppEvent } from '../contracts';

/** An event of the log, as subscribers receive it. */
export interface StoredEvent {
  id: number;
  at: Date;
  event: TAppEvent;
}

export interface StreamOptions {
  /** Only events of this conversation. */
  conversationId?: string;
  /** Replay the log after this event id first (a reconnecting dashboard's last seen id). */
  lastEventId?: number | null;
  signal?: AbortSignal;
}

/** The hub as services and the tRPC context see it (no database types, so the sdk can carry it). */
export interface EventStream {
  /** Events after lastEventId from the log, then live ones, until the signal aborts or the hub closes. */
  stream(opts: StreamOptions): AsyncIterable<StoredEvent>;
}
