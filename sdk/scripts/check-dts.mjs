// Fails when the built package would pull server code or server-only packages into a consumer: every
// module the bundled declarations and JavaScript refer to must be one of the package's declared
// dependencies, and none may be a relative path out of dist.
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const FORBIDDEN = [
  /^drizzle-orm(\/|$)/,
  /^postgres(\/|$)/,
  /^pg-boss(\/|$)/,
  /^fastify(\/|$)/,
  /^@fastify\//,
  /^pino(\/|$)/,
  /^@electric-sql\//,
  /^openai(\/|$)/,
  /^node:/,
];

/** Module specifiers a file refers to: imports, re-exports, import() types, requires and type references. */
export function referencedModules(source) {
  const found = new Set();
  const patterns = [
    /^\s*(?:import|export)\s+[\w\s{},*$]*?\bfrom\s*['"]([^'"\n]+)['"]/gm,
    /^\s*import\s*['"]([^'"\n]+)['"]/gm,
    /\bimport\s*\(\s*['"]([^'"\n]+)['"]\s*\)/g,
    /\brequire\s*\(\s*['"]([^'"\n]+)['"]\s*\)/g,
    /\/\/\/\s*<reference\s+(?:types|path)\s*=\s*['"]([^'"\n]+)['"]/g,
  ];
  for (const re of patterns) for (const m of source.matchAll(re)) found.add(m[1]);
  return [...found];
}

function packageName(specifier) {
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
}

export async function checkDist(dir = path.join(root, 'dist')) {
  const pkg = JSON.parse(await readFile(path.join(root, 'package.json'), 'utf8'));
  const allowed = new Set([
    ...Object.keys(pkg.dependencies ?? {}),
    ...Object.keys(pkg.peerDependencies ?? {}),
  ]);
  const problems = [];
  const files = (await readdir(dir)).filter((f) => f.endsWith('.js') || f === 'index.d.ts');
  if (!files.includes('index.d.ts') || !files.includes('index.js'))
    problems.push('dist has no index.js or index.d.ts');
  for (const file of files) {
    const source = await readFile(path.join(dir, file), 'utf8');
    for (const spec of referencedModules(source)) {
      // JavaScript modules may import one another inside dist; the declarations are one file.
      const sibling = /^\.\/[\w.-]+\.js$/.test(spec) && file.endsWith('.js') && files.includes(spec.slice(2));
      if (sibling) continue;
      if (spec.startsWith('.') || spec.startsWith('/')) problems.push(`${file} refers to the path ${spec}`);
      else if (FORBIDDEN.some((re) => re.test(spec)))
        problems.push(`${file} refers to the server package ${spec}`);
      else if (!allowed.has(packageName(spec)))
        problems.push(`${file} refers to ${spec}, not a declared dependency`);
    }
  }
  return problems;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const problems = await checkDist(process.argv[2] ? path.resolve(process.argv[2]) : undefined);
  if (problems.length) {
    console.error(`sdk check failed:\n  ${problems.join('\n  ')}`);
    process.exit(1);
  }
  console.log('sdk check: dist refers only to declared dependencies');
}
