import { spawn } from 'node:child_process';
import { startFakeOpenAI } from '../tests/fakes/openai-server';
import { startFakeWasender } from '../tests/fakes/wasender-server';
import { parseCli } from './lib/command-line';

/**
 * The whole loop on one machine: a fake OpenAI and a fake WaSender on loopback, and the server wired
 * to them. Post webhooks with `npm run simulate` and watch the replies arrive at the fake gateway.
 */
parseCli({ usage: 'Usage: [PORT=3000] npm run dev:fakes', options: {} });

const secret = 'dev-webhook-secret';
const openai = await startFakeOpenAI({
  responder: (body) => {
    const last = [...body.messages].reverse().find((m) => m.role === 'user');
    return `(fake AI) You said: ${typeof last?.content === 'string' ? last.content : '…'}`;
  },
});
const wasender = await startFakeWasender();
const port = process.env.PORT ?? '3000';

const server = spawn(process.execPath, ['--import', 'tsx', 'server/main.ts'], {
  stdio: 'inherit',
  env: {
    ...process.env,
    PORT: port,
    OPENAI_API_KEY: openai.apiKey,
    OPENAI_BASE_URL: openai.url,
    WASENDER_API_TOKEN: wasender.token,
    WASENDER_BASE_URL: wasender.url,
    WASENDER_WEBHOOK_SECRET: secret,
  },
});

let seen = 0;
const timer = setInterval(() => {
  for (const s of wasender.sent.slice(seen)) process.stdout.write(`\n[fake WhatsApp] → ${s.to}: ${s.text}\n`);
  seen = wasender.sent.length;
}, 250);

process.stdout.write(
  `\nFake OpenAI at ${openai.url}, fake WaSender at ${wasender.url}.\n` +
    `Try: npm run simulate -- --url http://127.0.0.1:${port} --secret ${secret}\n\n`,
);

const shutdown = () => {
  clearInterval(timer);
  server.kill('SIGTERM');
};
process.on('SIGINT', shutdown);
process.on('SIGTERM', shutdown);
server.on('exit', async (code) => {
  await openai.close();
  await wasender.close();
  process.exit(code ?? 0);
});
