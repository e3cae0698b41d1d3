import {
  createTRPCClient,
  httpBatchLink,
  httpSubscriptionLink,
  splitLink,
  TRPCClientError,
} from '@trpc/client';
import { EventSource } from 'eventsource';
import superjson from 'superjson';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TCampaignProgress } from '../../server/contracts';
import type { AppRouter } from '../../server/trpc/router';
import { type PipelineHarness, startPipeline } from '../helpers/pipeline';
import { FAST_CAMPAIGNS, phones, waitFor } from './support';

/** A campaign driven over real HTTP with an API key, its progress followed over Server-Sent Events. */

let h: PipelineHarness;
beforeAll(async () => {
  h = await startPipeline(FAST_CAMPAIGNS);
});
afterAll(() => h?.closeAll());

function client(key: string | null) {
  const headers: Record<string, string> = key ? { authorization: `Bearer ${key}` } : {};
  return createTRPCClient<AppRouter>({
    links: [
      splitLink({
        condition: (op) => op.type === 'subscription',
        true: httpSubscriptionLink({
          url: `${h.baseUrl}/trpc`,
          transformer: superjson,
          EventSource,
          eventSourceOptions: () => ({
            fetch: (url, init) => fetch(url, { ...init, headers: { ...init.headers, ...headers } }),
          }),
        }),
        false: httpBatchLink({ url: `${h.baseUrl}/trpc`, transformer: superjson, headers }),
      }),
    ],
  });
}

const httpStatus = (err: unknown) => (err instanceof TRPCClientError ? err.data?.httpStatus : undefined);

describe('campaigns over HTTP', () => {
  it('create → preview → start, with progress streamed until the campaign completes', async () => {
    const api = client(await h.key('agent'));
    const list = phones(12, 5_000_000);
    const c = await api.campaigns.create.mutate({
      name: 'Over HTTP',
      template: 'Hi {{name|friend}}, {{offer}}',
      audience: {
        numbers: ['number,name,offer', ...list.map((p, i) => `${p},Guest ${i},10% off`)].join('\n'),
      },
    });
    expect(c).toMatchObject({ status: 'draft', recipients: 12 });
    expect(c.createdAt).toBeInstanceOf(Date);
    const p = await api.campaigns.preview.query({ id: c.id, sample: 1 });
    expect(p.samples[0]!.text).toBe('Hi Guest 0, 10% off');

    const updates: TCampaignProgress[] = [];
    let completed = false;
    const sub = api.campaigns.progress.subscribe(
      { id: c.id },
      {
        onData: (e) => updates.push(e.data),
        onComplete: () => {
          completed = true;
        },
      },
    );
    await waitFor(() => updates.length > 0);
    expect(updates[0]).toMatchObject({ campaignId: c.id, status: 'draft' });
    await api.campaigns.start.mutate({ id: c.id });
    await waitFor(() => updates.at(-1)?.status === 'completed', { timeoutMs: 30_000 });
    sub.unsubscribe();
    const last = updates.at(-1)!;
    expect(last.figures).toMatchObject({ total: 12, sent: 12, pending: 0 });
    expect(last.at).toBeInstanceOf(Date);
    expect(updates.map((u) => u.figures.sent)).toEqual(
      [...updates.map((u) => u.figures.sent)].sort((a, b) => a - b),
    );
    await waitFor(() => completed);
    expect(h.wasender.sent.filter((s) => list.includes(s.to))).toHaveLength(12);
  });

  it('refuses a request without a key (401) and an agent deleting a draft (403)', async () => {
    const err = await client(null)
      .campaigns.list.query()
      .catch((e: unknown) => e);
    expect(httpStatus(err)).toBe(401);
    const api = client(await h.key('agent'));
    const c = await api.campaigns.create.mutate({
      name: 'Keep',
      template: 'Hi',
      audience: { numbers: phones(1, 5_100_000)[0]! },
    });
    const forbidden = await api.campaigns.delete.mutate({ id: c.id }).catch((e: unknown) => e);
    expect(httpStatus(forbidden)).toBe(403);
    const bad = await api.campaigns.create
      .mutate({ name: 'Bad', template: 'Hi {{whoever}}', audience: { tags: ['x'] } })
      .catch((e: unknown) => e);
    expect(httpStatus(bad)).toBe(400);
    expect((bad as Error).message).toContain('{{whoever}}');
  });
});
