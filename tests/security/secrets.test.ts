import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../server/log';
import { type PipelineHarness, sendsTo, startPipeline, textWebhook } from '../helpers/pipeline';

const lines: string[] = [];
let h: PipelineHarness;
let apiKey: string;
beforeAll(async () => {
  // The product's logger at its most verbose, writing into memory.
  const logger = createLogger({ logLevel: 'trace' }, [], { write: (l: string) => void lines.push(l) });
  h = await startPipeline({ REPLY_QUIET_MS: '0', AI_MAX_ATTEMPTS: '2' }, { logger });
  apiKey = await h.key('admin');
});
afterAll(() => h?.closeAll());

describe('secrets in logs', () => {
  it('no configured secret or API key appears in any log line, through successes and failures', async () => {
    // A normal exchange, an AI failure with retry, a gateway rejection, bad credentials everywhere.
    await h.post(textWebhook({ phone: '14155550701', text: 'hello' }));
    await sendsTo(h, '14155550701');
    h.openai.script({ status: 401, message: 'Incorrect API key provided' });
    await h.post(textWebhook({ phone: '14155550702', text: 'second' }));
    await sendsTo(h, '14155550702');
    h.wasender.script({ status: 401, message: 'Unauthorized' });
    await h.post(textWebhook({ phone: '14155550703', text: 'third' }));
    await h.post(textWebhook({ phone: '14155550704', text: 'x' }), 'wrong-signature');
    await fetch(`${h.baseUrl}/trpc/stats.systemStatus`, { headers: { authorization: `Bearer ${apiKey}` } });
    await fetch(`${h.baseUrl}/trpc/keys.list`, { headers: { authorization: 'Bearer wcb_wrong' } });
    await new Promise((r) => setTimeout(r, 1500));

    const secrets = [h.openai.apiKey, h.wasender.token, 'test-webhook-secret-0123456789', apiKey];
    expect(lines.length).toBeGreaterThan(10);
    const log = lines.join('\n');
    for (const s of secrets) expect(log).not.toContain(s);
  });
});

describe('credentials in URLs', () => {
  it('a subscription URL carrying the key in connectionParams is logged without it', async () => {
    const params = encodeURIComponent(JSON.stringify({ authorization: `Bearer ${apiKey}` }));
    await fetch(`${h.baseUrl}/trpc/stats.systemStatus?connectionParams=${params}`).catch(() => {});
    await new Promise((r) => setTimeout(r, 200));
    const log = lines.join('\n');
    expect(log).toContain('connectionParams=[redacted]');
    expect(log).not.toContain(apiKey);
    expect(log).not.toContain(params);
  });
});
