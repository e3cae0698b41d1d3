/**
 * The browser's EventSource cannot send headers, and whatever it sends travels in the URL, where proxies,
 * browser history and server logs keep it. So the sdk never puts the API key or sign-in token there: before
 * each connection (the first and every reconnect) it asks the API for a single-use stream ticket
 * (`staff.streamTicket`, valid a minute, consumed by the connection) and sends that instead.
 *
 * `ticketEventSource` wraps the runtime's EventSource class: each connection gets a fresh ticket in the
 * tRPC `connectionParams` of its URL, and the browser's own automatic reconnection (which would reuse the
 * spent ticket) is replaced by one that fetches a new ticket and resumes after the last event seen.
 */

type NativeEventSource = new (
  url: string,
  init?: never,
) => EventTarget & { readonly readyState: number; close(): void };

/** Returns a fresh ticket, or null to connect without one (no credentials configured). */
export type TicketSource = () => Promise<string | null>;

const CONNECTING = 0;
const OPEN = 1;
const CLOSED = 2;
const FIRST_RETRY_MS = 500;
const MAX_RETRY_MS = 30_000;

/** Errors from the ticket request that no retry will fix (credentials refused). */
function isFatal(err: unknown): boolean {
  const code = (err as { data?: { code?: string } } | null)?.data?.code;
  return code === 'UNAUTHORIZED' || code === 'FORBIDDEN';
}

export function ticketEventSource(Native: NativeEventSource, getTicket: TicketSource): NativeEventSource {
  return class TicketEventSource extends EventTarget {
    static readonly CONNECTING = CONNECTING;
    static readonly OPEN = OPEN;
    static readonly CLOSED = CLOSED;
    readonly CONNECTING = CONNECTING;
    readonly OPEN = OPEN;
    readonly CLOSED = CLOSED;
    readyState = CONNECTING;
    readonly url: string;
    #inner: (EventTarget & { readonly readyState: number; close(): void }) | null = null;
    #types = new Set<string>(['open', 'error', 'message']);
    #lastEventId: string | null = null;
    #retryMs = FIRST_RETRY_MS;
    #timer: ReturnType<typeof setTimeout> | undefined;

    constructor(url: string) {
      super();
      this.url = url;
      void this.#connect();
    }

    override addEventListener(...args: Parameters<EventTarget['addEventListener']>): void {
      super.addEventListener(...args);
      const type = args[0];
      if (!this.#types.has(type)) {
        this.#types.add(type);
        this.#inner?.addEventListener(type, this.#forward);
      }
    }

    close(): void {
      this.readyState = CLOSED;
      clearTimeout(this.#timer);
      this.#inner?.close();
      this.#inner = null;
    }

    #forward = (event: Event): void => {
      if (this.readyState === CLOSED) return;
      if (event.type === 'error') {
        this.#onError();
        return;
      }
      if (event.type === 'open') {
        this.readyState = OPEN;
        this.#retryMs = FIRST_RETRY_MS;
      }
      if (event instanceof MessageEvent) {
        if (event.lastEventId) this.#lastEventId = event.lastEventId;
        this.dispatchEvent(
          new MessageEvent(event.type, { data: event.data, lastEventId: event.lastEventId }),
        );
        return;
      }
      this.dispatchEvent(new Event(event.type));
    };

    #onError(): void {
      const inner = this.#inner;
      if (inner && inner.readyState === CLOSED) {
        // The server refused the connection (such as a spent or expired ticket): tell the caller.
        this.close();
        this.dispatchEvent(new Event('error'));
        return;
      }
      // A dropped connection: never let the runtime reconnect with the spent ticket.
      inner?.close();
      this.#inner = null;
      this.#retryLater();
    }

    #retryLater(): void {
      this.readyState = CONNECTING;
      this.dispatchEvent(new Event('error'));
      clearTimeout(this.#timer);
      this.#timer = setTimeout(() => void this.#connect(), this.#retryMs);
      this.#retryMs = Math.min(this.#retryMs * 2, MAX_RETRY_MS);
    }

    async #connect(): Promise<void> {
      let ticket: string | null;
      try {
        ticket = await getTicket();
      } catch (err) {
        if (this.readyState === CLOSED) return;
        if (isFatal(err)) {
          this.close();
          this.dispatchEvent(new Event('error'));
        } else this.#retryLater();
        return;
      }
      if (this.readyState === CLOSED) return;
      const base = (globalThis as { location?: { href: string } }).location?.href;
      const url = new URL(this.url, base);
      if (ticket) url.searchParams.set('connectionParams', JSON.stringify({ ticket }));
      if (this.#lastEventId) url.searchParams.set('lastEventId', this.#lastEventId);
      const inner = new Native(url.toString());
      this.#inner = inner;
      for (const type of this.#types) inner.addEventListener(type, this.#forward);
    }
  } as unknown as NativeEventSource;
}
