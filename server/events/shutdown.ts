import type { Socket } from 'node:net';
import type { FastifyInstance } from 'fastify';
import type { EventHub } from './hub';

/**
 * Event streams would keep the server's close() waiting (an open stream, then an idle keep-alive
 * socket until the client's reconnect). On close, end the streams and drop their sockets: clients see
 * a dropped connection, reconnect (to this instance once it is back, or another) and resume from
 * their last event id.
 */
export function closeStreamsOnShutdown(app: FastifyInstance, hub: Pick<EventHub, 'endStreams'>) {
  const sockets = new Set<Socket>();
  app.addHook('onRequest', async (req) => {
    if (!req.headers.accept?.includes('text/event-stream')) return;
    const socket = req.raw.socket;
    if (sockets.has(socket)) return;
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  app.addHook('preClose', async () => {
    hub.endStreams();
    for (const socket of sockets) socket.destroy();
  });
}
