import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { Webhook } from 'standardwebhooks';
import { closeServer, listenOnLoopback, readBody } from '../fakes/http';

/**
 * A webhook receiver on 127.0.0.1 that verifies every request's Standard Webhooks signature with the
 * `standardwebhooks` package, as a customer's endpoint would, and answers as the test scripts it.
 */
export interface ReceivedWebhook {
  webhookId: string;
  timestamp: string;
  headers: IncomingHttpHeaders;
  body: string;
  /** The parsed body when the signature verified; null when it did not. */
  verified: { type: string; timestamp: string; data: Record<string, unknown> } | null;
  answered: number | 'hang';
}

export interface Receiver {
  url: string;
  /** The subscription's secret, set once `webhooks.create` returned it. */
  secret: string | null;
  received: ReceivedWebhook[];
  /** What to answer to the next request: a status, or 'hang' (never answer). Default 200. */
  respond: (r: Omit<ReceivedWebhook, 'answered'>) => number | 'hang';
  /** Requests with a verified signature, by event id (`data.eventId`). */
  byEvent(): Map<number, ReceivedWebhook[]>;
  close(): Promise<void>;
}

export async function startReceiver(): Promise<Receiver> {
  const timers = new Set<NodeJS.Timeout>();
  const receiver: Receiver = {
    url: '',
    secret: null,
    received: [],
    respond: () => 200,
    byEvent() {
      const map = new Map<number, ReceivedWebhook[]>();
      for (const r of receiver.received) {
        const id = r.verified?.data.eventId;
        if (typeof id === 'number') map.set(id, [...(map.get(id) ?? []), r]);
      }
      return map;
    },
    close: () => closeServer(server, timers),
  };
  const server: Server = createServer(async (req, res) => {
    const body = await readBody(req);
    let verified: ReceivedWebhook['verified'] = null;
    try {
      if (receiver.secret) {
        verified = new Webhook(receiver.secret).verify(body, {
          'webhook-id': String(req.headers['webhook-id'] ?? ''),
          'webhook-timestamp': String(req.headers['webhook-timestamp'] ?? ''),
          'webhook-signature': String(req.headers['webhook-signature'] ?? ''),
        }) as ReceivedWebhook['verified'];
      }
    } catch {
      verified = null;
    }
    const partial = {
      webhookId: String(req.headers['webhook-id'] ?? ''),
      timestamp: String(req.headers['webhook-timestamp'] ?? ''),
      headers: req.headers,
      body,
      verified,
    };
    const answer = receiver.respond(partial);
    receiver.received.push({ ...partial, answered: answer });
    if (answer === 'hang') return;
    res.writeHead(answer, { 'content-type': 'text/plain' });
    res.end(answer >= 200 && answer < 300 ? 'ok' : `failing with ${answer}`);
  });
  const port = await listenOnLoopback(server);
  receiver.url = `http://127.0.0.1:${port}/hooks`;
  return receiver;
}
