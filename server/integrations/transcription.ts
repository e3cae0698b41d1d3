import { toFile } from 'openai';
import { type OpenAiOptions, openAiClient } from './ai';

/** Speech to text of voice notes through the OpenAI-compatible audio transcription endpoint. */
export interface Transcriber {
  readonly configured: boolean;
  transcribe(
    file: { bytes: Uint8Array; mimeType: string; fileName: string },
    opts?: { signal?: AbortSignal },
  ): Promise<string>;
}

export function createTranscriber(opts: OpenAiOptions & { model: string }): Transcriber {
  // Audio uploads take longer than chat calls: twice the timeout.
  const client = openAiClient({ ...opts, timeoutMs: opts.timeoutMs * 2 });
  return {
    configured: client !== null,
    async transcribe(file, o = {}) {
      if (!client) throw new Error('OPENAI_API_KEY is not configured');
      const upload = await toFile(file.bytes, file.fileName, { type: file.mimeType });
      const result = await client.audio.transcriptions.create(
        { file: upload, model: opts.model, response_format: 'json' },
        { signal: o.signal },
      );
      return result.text.trim();
    },
  };
}
