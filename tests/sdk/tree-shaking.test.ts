import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { build } from 'esbuild';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
// @ts-expect-error: a plain ESM script without declarations
import { annotatePureSchemas, CONTRACT_ENTRIES } from '../../sdk/scripts/build.mjs';
import { ensureSdkBuilt, repoRoot, sdkDist } from './support';

/**
 * An app that imports one schema from a router's contracts gets that schema (and what it uses), not the
 * router's other schemas: the build marks the contracts' schema-building calls pure, so bundlers drop the
 * unused ones.
 */

/** Bundles `source` from the repository (where @whatsapp-crm/sdk is the workspace package's dist). */
async function bundle(source: string) {
  const result = await build({
    stdin: { contents: source, resolveDir: repoRoot, loader: 'ts' },
    bundle: true,
    write: false,
    format: 'esm',
    platform: 'browser',
    metafile: true,
    logLevel: 'silent',
  });
  const inputs = Object.values(result.metafile.outputs)[0]!.inputs;
  const sdkBytes = Object.entries(inputs)
    .filter(([file]) => file.startsWith('sdk/dist/'))
    .reduce((sum, [, info]) => sum + info.bytesInOutput, 0);
  return { code: result.outputFiles[0]!.text, sdkBytes };
}

describe('annotatePureSchemas', () => {
  const annotate = annotatePureSchemas as (code: string, fileName: string) => string;

  it('marks the outermost call of each module-level chain and the calls in its arguments', () => {
    const code = [
      "import * as z from 'zod';",
      "export const ZA = z.object({ a: z.string().trim().min(1), b: z.enum(['x', 'y']) }).strict();",
      'export const ZB = ZA.extend({ c: z.number() }).refine((v) => check(v.c), { error: "bad" });',
      "export const VALUES = ['a', 'b'] as const;",
      'export const zPage = (item) => z.object({ items: z.array(item) });',
    ].join('\n');
    const out = annotate(code, 'x.ts');
    expect(out).toContain(
      "export const ZA = /* @__PURE__ */ z.object({ a: /* @__PURE__ */ z.string().trim().min(1), b: /* @__PURE__ */ z.enum(['x', 'y']) }).strict();",
    );
    // A call inside a function runs later, when it is called: never marked.
    expect(out).toContain(
      'export const ZB = /* @__PURE__ */ ZA.extend({ c: /* @__PURE__ */ z.number() }).refine((v) => check(v.c), { error: "bad" });',
    );
    expect(out).toContain("export const VALUES = ['a', 'b'] as const;");
    expect(out).toContain('export const zPage = (item) => z.object({ items: z.array(item) });');
  });

  it('only inserts marks, and never inside a function body', () => {
    const call = fc.constantFrom('z.string()', 'z.number().int()', 'Z.extend({ a: z.date() })', 'f(1)');
    const inFunction = call.map((c) => `(v) => ${c}`);
    const value = fc.oneof(call, inFunction, fc.constantFrom("'text'", '42', 'Z', '[1, 2]'));
    const initializer = fc
      .array(fc.tuple(fc.constantFrom('a', 'b', 'c'), value), { minLength: 1, maxLength: 4 })
      .chain((fields) =>
        fc.constantFrom(
          `z.object({ ${fields.map(([k, v]) => `${k}: ${v}`).join(', ')} })`,
          `[${fields.map(([, v]) => v).join(', ')}]`,
          fields[0]![1],
        ),
      );
    fc.assert(
      fc.property(fc.array(initializer, { minLength: 1, maxLength: 5 }), (inits) => {
        const code = inits.map((init, i) => `export const Z${i} = ${init};`).join('\n');
        const out = annotate(code, 'x.ts');
        expect(out.replaceAll('/* @__PURE__ */ ', '')).toBe(code);
        // Every arrow function's body is left as written.
        for (const body of out.matchAll(/=> ([^,)\]}]+(?:\([^)]*\))?)/g))
          expect(body[1]).not.toContain('@__PURE__');
      }),
      { numRuns: 200 },
    );
  });
});

describe('one schema from a contracts entry', () => {
  let tmp: string;
  beforeAll(async () => {
    await ensureSdkBuilt();
    tmp = await mkdtemp(path.join(os.tmpdir(), 'wcb-sdk-shake-'));
  }, 420_000);
  afterAll(async () => {
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  it("keeps ZContactCreateInput and drops the crm router's other schemas, and still validates", async () => {
    const { code } = await bundle("export { ZContactCreateInput } from '@whatsapp-crm/sdk/contracts/crm';\n");
    // Messages of other crm schemas (deals, tasks, activities) are gone; the contact's own stay.
    expect(code).toContain('phone is required');
    expect(code).not.toContain('three-letter currency code');
    expect(code).not.toContain('summary is required');
    expect(code).not.toContain('title is required');
    const file = path.join(tmp, 'contact.mjs');
    await writeFile(file, code);
    const { ZContactCreateInput } = await import(pathToFileURL(file).href);
    expect(ZContactCreateInput.safeParse({ phone: ' +14155550100 ', email: 'a@b.co' })).toMatchObject({
      success: true,
      data: { phone: '+14155550100', email: 'a@b.co' },
    });
    expect(ZContactCreateInput.safeParse({ phone: '+1', email: 'nope' }).success).toBe(false);
  }, 120_000);

  it('for any export of any contracts entry, keeps less of the sdk than the whole entry', async () => {
    const entries = await Promise.all(
      (CONTRACT_ENTRIES as string[]).map(async (name) => {
        const mod = await import(pathToFileURL(path.join(sdkDist, 'contracts', `${name}.js`)).href);
        const schemas = Object.keys(mod).filter((k) => /^Z/.test(k));
        const whole = await bundle(`export * from '@whatsapp-crm/sdk/contracts/${name}';\n`);
        return { name, schemas, whole: whole.sdkBytes };
      }),
    );
    const withSeveral = entries.filter((e) => e.schemas.length > 1);
    expect(withSeveral.length).toBeGreaterThan(5);
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...withSeveral).chain((e) => fc.tuple(fc.constant(e), fc.constantFrom(...e.schemas))),
        async ([entry, schema]) => {
          const one = await bundle(
            `export { ${schema} } from '@whatsapp-crm/sdk/contracts/${entry.name}';\n`,
          );
          expect(one.sdkBytes).toBeGreaterThan(0);
          expect(one.sdkBytes).toBeLessThan(entry.whole);
        },
      ),
      { numRuns: 40 },
    );
  }, 240_000);
});
