import { readFileSync } from 'node:fs';
import type { TCampaignCreateInput, TCampaignProgress, TLeadStatus } from '../server/contracts';
import { describeHolder } from '../server/db/client';
import { describeError, fail, withCaller } from './_cli';
import { parseCli } from './lib/command-line';

/**
 * Creates, previews and starts a campaign through the API's procedures, then shows its progress until
 * it is done and prints the final figures.
 *
 *   npm run campaign -- --name "Spring offer" --message "Hi {{name|there}}!" --numbers customers.csv
 *   npm run campaign -- --name X --message "..." --tag vip[,other] [--status qualified,proposal]
 *
 * Options: --rate N (messages per minute), --jitter PERCENT, --dry-run (stop after the preview),
 * --detach (start and exit; the server's workers send). This process also dispatches while it waits,
 * alongside any running server on Postgres (one dispatcher holds a campaign at a time); after Ctrl-C the
 * server's workers carry on. On an embedded data folder a running server holds, the script acts through
 * that server and only its workers send.
 */
const cli = parseCli({
  usage:
    'Usage: npm run campaign -- --name NAME (--message TEXT | --message-file FILE) (--numbers FILE | --tag T[,T] | --status S[,S]) [--rate N] [--jitter P] [--dry-run] [--detach]',
  options: {
    name: { type: 'string' },
    message: { type: 'string' },
    'message-file': { type: 'string' },
    numbers: { type: 'string' },
    tag: { type: 'string' },
    status: { type: 'string' },
    rate: { type: 'string' },
    jitter: { type: 'string' },
    'dry-run': { type: 'boolean' },
    detach: { type: 'boolean' },
  },
});
const args = cli.values;
const list = (value: string | undefined) =>
  value
    ?.split(',')
    .map((s) => s.trim())
    .filter(Boolean) ?? [];
const rate = cli.int('rate');
const jitter = cli.int('jitter');

const name = args.name || cli.usageError('--name is required.');
const messageFile = args['message-file'];
const message =
  (args.message ?? (messageFile ? readFileSync(messageFile, 'utf8') : undefined)) ||
  cli.usageError('--message (or --message-file) is required.');
const numbersFile = args.numbers;
const audience: TCampaignCreateInput['audience'] = {
  contactIds: [],
  tags: list(args.tag),
  leadStatuses: list(args.status) as TLeadStatus[],
  ...(numbersFile ? { numbers: readFileSync(numbersFile, 'utf8') } : {}),
};

const out = (s: string) => process.stdout.write(s);
const pct = (x: number | null) => (x === null ? '–' : `${Math.round(x * 100)}%`);

function bar(p: TCampaignProgress): string {
  const f = p.figures;
  const done = f.total - f.pending - f.sending;
  const width = 30;
  const filled = f.total ? Math.round((done / f.total) * width) : width;
  const eta = p.estimatedFinishAt
    ? ` · ETA ${Math.max(0, Math.round((p.estimatedFinishAt.getTime() - Date.now()) / 1000))}s`
    : '';
  return (
    `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${f.total} ${p.status}` +
    ` · sent ${f.sent + f.delivered + f.read} · failed ${f.failed} · skipped ${f.skipped}` +
    ` · ${p.rates.sentLastMinute}/min${eta}`
  );
}

await withCaller(async (api, runtime) => {
  try {
    const draft = await api.campaigns.create({
      name,
      template: message,
      audience,
      variableDefaults: {},
      ...(rate !== undefined ? { ratePerMinute: rate } : {}),
      ...(jitter !== undefined ? { jitterPercent: jitter } : {}),
    });
    const preview = await api.campaigns.preview({ id: draft.id, sample: 3 });
    const t = preview.totals;
    out(`Campaign ${draft.id} "${draft.name}" (draft)\n`);
    out(
      `  recipients: ${t.valid} to message, ${t.optedOut} opted out, ${t.invalid} invalid, ${t.duplicate} duplicate\n`,
    );
    for (const p of preview.invalid.slice(0, 10))
      out(`  invalid${p.line ? ` line ${p.line}` : ''}: ${p.value}: ${p.reason}\n`);
    if (preview.invalid.length > 10) out(`  ... and ${t.invalid - 10} more invalid\n`);
    for (const m of preview.missing)
      out(`  {{${m.variable}}} missing for ${m.recipients}: "${m.default}" is used\n`);
    for (const s of preview.samples) out(`  to ${s.phone}: ${s.text.replace(/\n/g, ' ⏎ ')}\n`);
    if (args['dry-run']) {
      out('Dry run: the draft is kept; start it with campaigns.start.\n');
      return;
    }
    // Acting on a running server's embedded database, that server's workers send; otherwise this
    // process dispatches while it waits.
    const server = runtime.database.attachedTo;
    if (!args.detach && !server) await runtime.campaigns.startWorkers();
    const started = await api.campaigns.start({ id: draft.id });
    out(
      `Started at ${started.ratePerMinute} messages per minute${server ? ` by ${describeHolder(server)}` : ''}.\n`,
    );
    if (args.detach) return;

    let stopped = false;
    const onSigint = () => {
      stopped = true;
    };
    process.once('SIGINT', onSigint);
    const tty = process.stdout.isTTY;
    let last: TCampaignProgress | null = null;
    let printedAt = 0;
    for await (const e of await api.campaigns.progress({ id: draft.id })) {
      const p = (e as unknown as [string, TCampaignProgress])[1];
      last = p;
      if (tty) out(`\r${bar(p)}\u001b[K`);
      else if (Date.now() - printedAt > 5000 || p.status === 'completed') {
        out(`${bar(p)}\n`);
        printedAt = Date.now();
      }
      if (stopped) break;
    }
    process.off('SIGINT', onSigint);
    if (tty) out('\n');
    if (stopped) out('Stopped watching; the campaign keeps running in the server workers.\n');
    const final = await api.campaigns.get({ id: draft.id });
    const f = final.figures;
    out(`Campaign ${final.status}${final.pausedReason ? ` (${final.pausedReason})` : ''}\n`);
    out(
      `  total ${f.total}: sent ${f.sent}, delivered ${f.delivered}, read ${f.read}, failed ${f.failed}, skipped ${f.skipped}, pending ${f.pending + f.sending}\n`,
    );
    out(
      `  delivery ${pct(final.rates.delivery)}, read ${pct(final.rates.read)}, replies ${f.replied} (${pct(final.rates.reply)})\n`,
    );
    if (f.failed)
      out(
        `  failed recipients: campaigns.recipients with status "failed"; resend with campaigns.retryFailed\n`,
      );
    if (last?.status === 'paused') process.exitCode = 3;
  } catch (err) {
    fail(describeError(err));
  }
});
