import { randomBytes } from 'node:crypto';
import { parseCli } from './lib/command-line';

/**
 * Posts realistic, signed WaSender webhooks to a running server: a greeting, a quick burst of three
 * messages, a customer writing under a LID, a photo, a status update, and (with --all) an opt-out.
 *
 *   npm run simulate -- --url http://127.0.0.1:3000 --secret SECRET [--phone 14155550123] [--text "hi"]
 */
const cli = parseCli({
  usage:
    'Usage: npm run simulate -- --secret SECRET [--url http://127.0.0.1:3000] [--phone 14155550123] [--text "hi"] [--all]',
  options: {
    url: { type: 'string' },
    secret: { type: 'string' },
    phone: { type: 'string' },
    text: { type: 'string' },
    all: { type: 'boolean' },
  },
});
const args = cli.values;
const url = args.url ?? 'http://127.0.0.1:3000';
if (!URL.canParse(url)) cli.usageError(`--url must be a URL such as http://127.0.0.1:3000 (got "${url}").`);
const secret = args.secret ?? cli.usageError('--secret is required (WASENDER_WEBHOOK_SECRET).');
const phone = args.phone !== undefined ? args.phone.replace(/\D/g, '') : '14155550123';
if (!/^\d{6,15}$/.test(phone)) cli.usageError(`--phone must have 6 to 15 digits (got "${args.phone}").`);

const id = () => `3EB0${randomBytes(8).toString('hex').toUpperCase()}`;
const now = () => Math.floor(Date.now() / 1000);

function message(p: { text?: string; jid?: string; pn?: string; image?: boolean; pushName?: string }) {
  const key: Record<string, unknown> = {
    id: id(),
    fromMe: false,
    remoteJid: p.jid ?? `${phone}@s.whatsapp.net`,
  };
  if (p.pn) Object.assign(key, { senderPn: `${p.pn}@s.whatsapp.net`, cleanedSenderPn: p.pn });
  return {
    event: 'messages.upsert',
    timestamp: Date.now(),
    data: {
      messages: {
        key,
        pushName: p.pushName ?? 'Sim Customer',
        messageTimestamp: now(),
        message: p.image
          ? {
              imageMessage: {
                url: 'https://mmg.whatsapp.net/sim.enc',
                mimetype: 'image/jpeg',
                caption: p.text,
              },
            }
          : { conversation: p.text },
      },
    },
  };
}

async function post(label: string, body: unknown) {
  const res = await fetch(`${url}/webhook`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-webhook-signature': secret },
    body: JSON.stringify(body),
  });
  process.stdout.write(`${label.padEnd(34)} → ${res.status} ${await res.text()}\n`);
}

if (args.text !== undefined) {
  await post('message', message({ text: args.text }));
} else {
  await post('greeting', message({ text: 'Hello! Are you open today?' }));
  await new Promise((r) => setTimeout(r, 500));
  for (const text of ['I would like a quote', 'for 20 office chairs', 'delivered next week']) {
    await post(`burst: ${text}`, message({ text }));
  }
  await post(
    'same person under a LID',
    message({ text: 'Also, do you deliver?', jid: '7788990011@lid', pn: phone }),
  );
  await post('photo without caption', message({ image: true }));
  await post('status update (read)', {
    event: 'messages.update',
    data: { key: { id: id(), fromMe: true, remoteJid: `${phone}@s.whatsapp.net` }, update: { status: 4 } },
  });
  if (args.all) await post('opt-out', message({ text: 'STOP' }));
}
