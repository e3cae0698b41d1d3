import type OpenAI from 'openai';
import { AiFatalError, AiRetryableError, classifyOpenAiError, type OpenAiOptions, openAiClient } from './ai';

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
        throw classifyOpenAiError(err, 'Embeddings', 'The embeddings endpoint answered');
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
