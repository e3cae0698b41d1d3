/**
 * Serves the inbox page (index.html, style.css, dist/app.js) on its own origin.
 *
 *   npx tsx sdk/examples/inbox/serve.ts [--port 5173]
 *   then open http://127.0.0.1:5173/?api=http://127.0.0.1:3000/trpc&token=<a sign-in token or API key>
 *   (the API must list http://127.0.0.1:5173 in CORS_ORIGINS)
 */
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { inboxDir } from './build';

const FILES: Record<string, { file: string; type: string }> = {
  '/': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/index.html': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/style.css': { file: 'style.css', type: 'text/css; charset=utf-8' },
  '/dist/app.js': { file: 'dist/app.js', type: 'text/javascript; charset=utf-8' },
  '/dist/app.js.map': { file: 'dist/app.js.map', type: 'application/json' },
};

export interface InboxServer {
  origin: string;
  close(): Promise<void>;
}

export async function startInboxServer(opts: { port?: number; host?: string } = {}): Promise<InboxServer> {
  const server = createServer(async (req, res) => {
    const entry = FILES[new URL(req.url ?? '/', 'http://x').pathname];
    if (!entry || (req.method !== 'GET' && req.method !== 'HEAD')) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
      return;
    }
    try {
      const body = await readFile(path.join(inboxDir, entry.file));
      res.writeHead(200, {
        'content-type': entry.type,
        'cache-control': 'no-store',
        'content-security-policy':
          "default-src 'self'; connect-src 'self' http: https:; img-src 'self' data:",
        'x-content-type-options': 'nosniff',
      });
      res.end(req.method === 'HEAD' ? undefined : body);
    } catch {
      res
        .writeHead(404, { 'content-type': 'text/plain' })
        .end(`${entry.file} is missing: build the example first`);
    }
  });
  const host = opts.host ?? '127.0.0.1';
  await new Promise<void>((resolve) => server.listen(opts.port ?? 0, host, resolve));
  const { port } = server.address() as AddressInfo;
  return {
    origin: `http://${host}:${port}`,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const i = process.argv.indexOf('--port');
  const port = i > 0 ? Number(process.argv[i + 1]) : 5173;
  const { origin } = await startInboxServer({ port });
  console.log(`inbox example on ${origin}/  (open ${origin}/?api=<API>/trpc&token=<sign-in token>)`);
}
