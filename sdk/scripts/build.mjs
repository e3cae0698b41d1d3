// Builds the published package with tsdown: ESM (.js + .d.ts) and CommonJS (.cjs + .d.cts) for every entry
// (the client, the React integration, all contracts and each router's contracts), dependencies external,
// then checks what the output refers to (check-dts.mjs).
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'tsdown';
import ts from 'typescript';
import { checkDist } from './check-dts.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dist = path.join(root, 'dist');
const serverContracts = path.resolve(root, '../server/contracts');

/** The routers whose contracts have their own entry, `@whatsapp-crm/sdk/contracts/<name>`. */
export const CONTRACT_ENTRIES = [
  'common',
  'conversations',
  'crm',
  'leads',
  'bot',
  'campaigns',
  'stats',
  'keys',
  'staff',
  'system',
  'webhooks',
  'knowledge',
  'groups',
];

/**
 * The router's type reaches the declarations through server/trpc, whose context names the server's services
 * and logger. The declaration build resolves that module to `src/opaque-context.d.ts` (`object`), so the
 * published router type carries no server internals. It runs before the declaration plugin's own resolver
 * (see `inputOptions` below), which would otherwise find the real module next to the importer.
 */
const opaqueContext = {
  name: 'sdk-opaque-context',
  resolveId: {
    order: 'pre',
    filter: { id: /^\.\/context/ },
    handler(source, importer) {
      if (!importer || !/[\\/]server[\\/]trpc[\\/]/.test(importer)) return null;
      if (!/^\.\/context(\.(ts|js|d\.ts))?$/.test(source)) return null;
      return { id: path.join(root, 'src/opaque-context.d.ts') };
    },
  },
};

/**
 * The contracts write `import { z } from 'zod'`, which binds zod's whole namespace object: an app's bundler
 * then keeps all of zod (locales included). `import * as z from 'zod'` names the same exports and lets it
 * keep only what the schemas use.
 */
const zodNamespace = {
  name: 'sdk-zod-namespace',
  transform: {
    filter: { id: /[\\/]server[\\/]contracts[\\/][\w-]+\.ts$/ },
    handler(code, id) {
      if (!id.startsWith(serverContracts)) return null;
      return { code: code.replace(/^import \{ z \} from 'zod';$/m, "import * as z from 'zod';"), map: null };
    },
  },
};

/** True when `call` is an inner link of a chain such as `z.string().trim()`, i.e. the object of a further call. */
function isChainLink(call) {
  let node = call;
  while (
    (ts.isPropertyAccessExpression(node.parent) || ts.isElementAccessExpression(node.parent)) &&
    node.parent.expression === node
  ) {
    node = node.parent;
  }
  return node !== call && ts.isCallExpression(node.parent) && node.parent.expression === node;
}

/**
 * Marks the schema-building calls of the contracts `/* @__PURE__ *\/`: every call made while a module loads
 * (the outermost call of each chain, and the calls in its arguments), never a call inside a function body.
 * A bundler cannot tell that `z.object({...})` has no side effects, so without the mark it keeps every schema
 * of a contracts module (and the zod code they use) when an app imports only one of them. The contracts only
 * declare values, so an unused schema can be dropped. esbuild, Rollup/Vite and Terser honour the mark; the
 * types are untouched.
 */
export function annotatePureSchemas(code, fileName) {
  const source = ts.createSourceFile(fileName, code, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const starts = [];
  const visit = (node) => {
    if (ts.isFunctionLike(node) || ts.isClassLike(node)) return;
    if ((ts.isCallExpression(node) || ts.isNewExpression(node)) && !isChainLink(node)) {
      starts.push(node.getStart(source));
    }
    ts.forEachChild(node, visit);
  };
  for (const statement of source.statements) {
    if (!ts.isVariableStatement(statement)) continue;
    for (const declaration of statement.declarationList.declarations) {
      if (declaration.initializer) visit(declaration.initializer);
    }
  }
  let out = code;
  for (const at of [...new Set(starts)].sort((a, b) => b - a)) {
    out = `${out.slice(0, at)}/* @__PURE__ */ ${out.slice(at)}`;
  }
  return out;
}

const pureSchemas = {
  name: 'sdk-pure-schemas',
  transform: {
    filter: { id: /[\\/]server[\\/]contracts[\\/][\w-]+\.ts$/ },
    handler(code, id) {
      if (!id.startsWith(serverContracts)) return null;
      return { code: annotatePureSchemas(code, id), map: null };
    },
  },
};

const started = Date.now();
const entry = {
  index: 'src/index.ts',
  react: 'src/react.ts',
  'contracts/index': 'src/contracts/index.ts',
  ...Object.fromEntries(CONTRACT_ENTRIES.map((name) => [`contracts/${name}`, `src/contracts/${name}.ts`])),
};

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  await build({
    cwd: root,
    config: false,
    entry,
    format: ['esm', 'cjs'],
    outDir: dist,
    clean: true,
    platform: 'neutral',
    target: 'es2022',
    tsconfig: path.join(root, 'tsconfig.build.json'),
    dts: { tsconfig: path.join(root, 'tsconfig.build.json') },
    sourcemap: false,
    hash: false,
    treeshake: true,
    logLevel: 'warn',
    checks: { pluginTimings: false },
    plugins: [zodNamespace, pureSchemas],
    // Modules shared by several entries go to dist/chunks, apart from the entries the exports map names.
    outputOptions: (options) => {
      const names = options.chunkFileNames;
      return {
        ...options,
        chunkFileNames: (chunk) => `chunks/${typeof names === 'function' ? names(chunk) : names}`,
      };
    },
    inputOptions: (options) => ({ ...options, plugins: [opaqueContext, options.plugins] }),
    deps: {
      neverBundle: [
        /^@trpc\//,
        /^@tanstack\//,
        /^react(\/|$)/,
        /^superjson(\/|$)/,
        /^zod(\/|$)/,
        /^eventsource(\/|$)/,
      ],
    },
  });

  const problems = await checkDist(dist);
  if (problems.length) {
    console.error(`sdk build failed its check:\n  ${problems.join('\n  ')}`);
    process.exit(1);
  }
  console.log(`sdk built into ${path.relative(process.cwd(), dist) || 'dist'} in ${Date.now() - started} ms`);
}
