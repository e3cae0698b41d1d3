import OpenAI from 'openai';
import { AiFatalError, AiRetryableError, type OpenAiOptions, openAiClient } from './ai';

/** Inputs sent in one embeddings call. */
export const EMBEDDING_BATCH_SIZE = 64;

export interface EmbeddingsClient {
  readonly configured: boolean;
  readonly model: string;
  /** One vector per input, in order. Errors are AiRetryableError (worth retrying) or AiFatalError. */
  embed(inputs: string[], opts?: { signal?: AbortSignal }): Promise<number[][]>;
}

/**
 * Embeddings through the OpenAI-compatible `/embeddings` endpoint (same base URL and key as replies).
 * Like the chat client, the SDK's own retries are off: the knowledge job retries with backoff.
 */
export function createEmbeddingsClient(
  opts: OpenAiOptions & { model: string; dimensions?: number },
): EmbeddingsClient {
  const client = openAiClient(opts);
  return {
    configured: client !== null,
    model: opts.model,
    async embed(inputs, o = {}) {
      if (!client) throw new AiFatalError('OPENAI_API_KEY is not configured');
      if (!inputs.length) return [];
      let res: OpenAI.Embeddings.CreateEmbeddingResponse;
      try {
        res = await client.embeddings.create(
          {
            model: opts.model,
            input: inputs,
            encoding_format: 'float',
            ...(opts.dimensions ? { dimensions: opts.dimensions } : {}),
          },
          { signal: o.signal },
        );
      } catch (err) {
        throw classify(err);
      }
      const out: number[][] = new Array(inputs.length);
      for (const d of res.data ?? []) {
        if (Number.isInteger(d.index) && d.index >= 0 && d.index < inputs.length) out[d.index] = d.embedding;
      }
      const dims = out[0]?.length ?? 0;
      for (let i = 0; i < inputs.length; i++) {
        const v = out[i];
        if (!Array.isArray(v) || v.length === 0 || v.length !== dims || !v.every(Number.isFinite)) {
          throw new AiRetryableError(
            'The embeddings endpoint answered without a usable vector for every input',
          );
        }
      }
      return out;
    },
  };
}

function classify(err: unknown): Error {
  if (err instanceof OpenAI.APIConnectionTimeoutError || err instanceof OpenAI.APIConnectionError) {
    return new AiRetryableError(`Embeddings request failed: ${err.message}`, { cause: err });
  }
  if (err instanceof OpenAI.APIError) {
    const status = err.status ?? 0;
    const retryable = status === 429 || status === 408 || status >= 500;
    const message = `The embeddings endpoint answered ${status || 'an error'}`;
    return retryable
      ? new AiRetryableError(message, { cause: err })
      : new AiFatalError(message, { cause: err });
  }
  if (err instanceof Error && err.name === 'AbortError')
    return new AiRetryableError('Embeddings request aborted');
  return new AiRetryableError('Embeddings request failed', { cause: err });
}
