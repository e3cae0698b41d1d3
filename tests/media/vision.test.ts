import { readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { messagesUpsert, newMessageId, upsertEntry } from '../../scripts/lib/wasender-payloads';
import { type PipelineHarness, sendsTo, startPipeline } from '../helpers/pipeline';

const PNG = Buffer.concat([
  Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
  Buffer.from('png'),
]);

let h: PipelineHarness;
beforeAll(async () => {
  const persona = JSON.parse(await readFile('persona.json', 'utf8')) as Record<string, unknown>;
  const file = path.join(tmpdir(), `persona-vision-${process.pid}-${Date.now()}.json`);
  await writeFile(file, JSON.stringify({ ...persona, media: { vision: true } }));
  h = await startPipeline({
    REPLY_QUIET_MS: '200',
    PERSONA_PATH: file,
    MEDIA_DIR: path.join(tmpdir(), `wcb-media-vision-${process.pid}-${Date.now()}`),
  });
});
afterAll(() => h?.closeAll());

it('a photo goes to the model as an image part when the persona enables vision', async () => {
  const phone = '14155550921';
  const id = newMessageId();
  h.wasender.addMedia(id, PNG, 'image/png');
  h.openai.setResponder((body) => {
    const last = body.messages.filter((m) => m.role === 'user').at(-1);
    const parts = Array.isArray(last?.content) ? (last.content as Array<Record<string, unknown>>) : [];
    const image = parts.find((p) => p.type === 'image_url') as { image_url: { url: string } } | undefined;
    return image ? `I see ${image.image_url.url.slice(0, 22)}` : 'no image';
  });
  await h.post(
    messagesUpsert(
      upsertEntry({
        phone,
        id,
        message: { imageMessage: { mimetype: 'image/png', caption: 'is this in stock?' } },
      }),
    ),
  );
  const [reply] = await sendsTo(h, phone);
  expect(reply!.text).toBe('I see data:image/png;base64,');
  const req = h.openai.requests.at(-1)!.body;
  const last = req.messages.filter((m) => m.role === 'user').at(-1)!;
  expect(last.content).toEqual([
    { type: 'text', text: '[image] is this in stock?' },
    { type: 'image_url', image_url: { url: `data:image/png;base64,${PNG.toString('base64')}` } },
  ]);
});
