import { parseCli } from './lib/command-line';
import {
  content,
  messagesUpsert,
  newMessageId,
  statusWebhook,
  upsertEntry,
  webhookHeaders,
} from './lib/wasender-payloads';

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

/** A message from the simulated customer (under `lid` when given), as text or as a photo. */
function message(p: { text?: string; lid?: string; image?: boolean }) {
  return messagesUpsert(
    upsertEntry({
      phone,
      lid: p.lid,
      defaultPushName: 'Sim Customer',
      message: p.image ? content.image({ caption: p.text }) : content.text(p.text),
    }),
  );
}

async function post(label: string, body: unknown) {
  const res = await fetch(`${url}/webhook`, {
    method: 'POST',
    headers: webhookHeaders(secret),
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
  await post('same person under a LID', message({ text: 'Also, do you deliver?', lid: '7788990011@lid' }));
  await post('photo without caption', message({ image: true }));
  await post('status update (read)', statusWebhook(newMessageId(), 4, { phone }));
  if (args.all) await post('opt-out', message({ text: 'STOP' }));
}
