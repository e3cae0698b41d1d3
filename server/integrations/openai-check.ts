import OpenAI from 'openai';

/**
 * A cheap live check of the OpenAI API: one page of the model list, with a short timeout and no
 * retries. Answers whether the key works and whether the configured model is listed.
 */
export function createOpenAICheck(opts: {
  apiKey: string;
  baseUrl?: string;
  model: string;
  timeoutMs?: number;
}): () => Promise<{ ok: boolean; detail: string }> {
  const client = new OpenAI({
    apiKey: opts.apiKey,
    baseURL: opts.baseUrl,
    timeout: opts.timeoutMs ?? 5000,
    maxRetries: 0,
  });
  return async () => {
    try {
      const page = await client.models.list();
      const listed = page.data.some((m) => m.id === opts.model);
      return {
        ok: true,
        detail: listed ? `reachable; ${opts.model} is available` : `reachable; ${opts.model} is not listed`,
      };
    } catch (err) {
      if (err instanceof OpenAI.APIError && err.status !== undefined) {
        const why = err.status === 401 ? 'the API key was refused' : `answered ${err.status}`;
        return { ok: false, detail: `OpenAI ${why}` };
      }
      return { ok: false, detail: 'OpenAI could not be reached' };
    }
  };
}
