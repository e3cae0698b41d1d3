import type { FastifyPluginAsync } from 'fastify';
import type { Services } from '../services';

/**
 * `GET /media/:id?exp=&sig=`: a stored file through a signed, expiring link (made by
 * `conversations.mediaUrl`, or for the gateway fetching an outbound file: a message's media row or a
 * group send's file, by the row's id). No credentials: the signature is the permission. A bad or tampered signature, or an expired link, gets 403.
 */
export const mediaRoutes: FastifyPluginAsync<{ services: Services }> = async (app, { services }) => {
  app.get<{ Params: { id: string }; Querystring: { exp?: string; sig?: string } }>(
    '/media/:id',
    async (req, reply) => {
      const { id } = req.params;
      const { exp, sig } = req.query;
      const check = /^[0-9a-f-]{36}$/i.test(id) ? services.media.checkLink(id, exp, sig) : 'invalid';
      reply.header('cache-control', 'private, no-store');
      reply.header('x-content-type-options', 'nosniff');
      if (check !== 'ok') {
        return reply
          .code(403)
          .send({ error: check === 'expired' ? 'This link has expired' : 'This link is not valid' });
      }
      const file = await services.media.file(id);
      if (!file) return reply.code(404).send({ error: 'The file is not available' });
      const ascii = file.fileName.replace(/[^\x20-\x7e]/g, '_').replace(/["\\]/g, '_');
      const inline = /^(image|audio|video)\//.test(file.mimeType) || file.mimeType === 'application/pdf';
      reply
        .header('content-type', file.mimeType)
        .header(
          'content-disposition',
          `${inline ? 'inline' : 'attachment'}; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(file.fileName)}`,
        )
        .header('content-security-policy', "default-src 'none'; sandbox");
      return reply.send(Buffer.from(file.bytes.buffer, file.bytes.byteOffset, file.bytes.byteLength));
    },
  );
};
