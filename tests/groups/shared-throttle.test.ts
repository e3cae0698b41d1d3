import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../campaigns/support';
import { type PipelineHarness, startPipeline } from '../helpers/pipeline';

const A = '120363000000000201@g.us';
const B = '120363000000000202@g.us';
const C = '120363000000000203@g.us';

let h: PipelineHarness;
beforeAll(async () => {
  // The shared gateway throttle: one send every 500 ms for replies, campaigns and groups alike.
  h = await startPipeline({ SEND_RATE_PER_MINUTE: '120' });
  h.wasender.setGroups(
    [A, B, C].map((id, i) => ({
      id,
      name: `Group ${i}`,
      participants: [{ id: `1415555300${i}@s.whatsapp.net` }],
    })),
  );
  await h.caller('admin').groups.sync();
  await waitFor(async () => (await h.caller('admin').groups.syncStatus())?.status === 'completed');
});
afterAll(() => h?.closeAll());

describe('group sends and the shared gateway throttle', () => {
  it('paces a campaign without its own gap at the gateway rate', async () => {
    const createdAt = Date.now();
    await h
      .caller('admin')
      .groups.campaign({ name: 'No gap', jids: [A, B, C], text: 'paced', gapSeconds: 0 });
    const sends = await waitFor(() => {
      const list = h.wasender.sent.filter((s) => s.text === 'paced');
      return list.length === 3 ? list : null;
    });
    const last = Math.max(...sends.map((s) => s.at));
    // Three turns of the shared throttle, 500 ms apart, the first taken after the campaign was created.
    expect(last).toBeGreaterThanOrEqual(createdAt + 1000);
  });

  it("waits out the gateway's rate limit and sends once", async () => {
    h.wasender.script({ status: 429, retryAfter: 1 });
    const rejectedBefore = h.wasender.requests.length;
    const send = await h.caller('admin').groups.send({ jid: A, text: 'after the limit' });
    const row = await waitFor(async () => {
      const [r] = (await h.caller('agent').groups.sends({ jid: A })).filter((x) => x.id === send.id);
      return r?.status === 'sent' || r?.status === 'failed' ? r : null;
    });
    expect(row.status).toBe('sent');
    expect(h.wasender.sent.filter((s) => s.text === 'after the limit')).toHaveLength(1);
    expect(h.wasender.requests.length - rejectedBefore).toBe(2);
  });
});
