// Fails when the built package would pull server code or server-only packages into a consumer: every
// module the declarations (.d.ts, .d.cts) and JavaScript (.js, .cjs) refer to must be one of the package's
// declared dependencies or a file inside dist, and the declarations must not name the server's internals.
import { access, readdir, readFile } from 'node:fs/promises';
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
/**
 * Names of the server's internals: the tRPC context and what it holds. The router type the sdk publishes
 * has an opaque context, so none of them may appear in a declaration.
 */
const INTERNAL_NAMES = [
  'Services',
  'AuthService',
  'bootstrapAdminKey',
  'authenticate',
  'createInnerContext',
  'createRequestContext',
  'PgBoss',
  'Drizzle',
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

const isDeclaration = (file) => /\.d\.c?ts$/.test(file);
const isJavaScript = (file) => /\.c?js$/.test(file) && !isDeclaration(file);

async function listFiles(dir, prefix = '') {
  const out = [];
  for (const e of await readdir(path.join(dir, prefix), { withFileTypes: true })) {
    const rel = prefix ? `${prefix}/${e.name}` : e.name;
    if (e.isDirectory()) out.push(...(await listFiles(dir, rel)));
    else if (isDeclaration(rel) || isJavaScript(rel)) out.push(rel);
  }
  return out;
}

async function exists(file) {
  try {
    await access(file);
    return true;
  } catch {
    return false;
  }
}

/** A relative specifier is fine when it names a file inside dist (declarations may leave out `.d.ts`). */
async function resolvesInside(dir, file, spec) {
  const target = path.resolve(dir, path.dirname(file), spec);
  if (path.relative(dir, target).startsWith('..')) return false;
  const candidates = [target, target.replace(/\.(c?)js$/, '.d.$1ts')];
  for (const c of candidates) if (await exists(c)) return true;
  return false;
}

export async function checkDist(dir = path.join(root, 'dist')) {
  const pkg = JSON.parse(await readFile(path.join(root, 'package.json'), 'utf8'));
  const allowed = new Set([
    ...Object.keys(pkg.dependencies ?? {}),
    ...Object.keys(pkg.peerDependencies ?? {}),
  ]);
  const problems = [];
  const files = await listFiles(dir);
  if (!files.includes('index.d.ts') || !files.includes('index.js'))
    problems.push('dist has no index.js or index.d.ts');
  for (const file of files) {
    const source = await readFile(path.join(dir, file), 'utf8');
    for (const spec of referencedModules(source)) {
      if (spec.startsWith('.') && (await resolvesInside(dir, file, spec))) continue;
      if (spec.startsWith('.') || spec.startsWith('/')) problems.push(`${file} refers to the path ${spec}`);
      else if (FORBIDDEN.some((re) => re.test(spec)))
        problems.push(`${file} refers to the server package ${spec}`);
      else if (!allowed.has(packageName(spec)))
        problems.push(`${file} refers to ${spec}, not a declared dependency`);
    }
    if (isDeclaration(file)) {
      for (const name of INTERNAL_NAMES) {
        if (new RegExp(`\\b${name}\\b`).test(source)) problems.push(`${file} names the server's ${name}`);
      }
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
  console.log('sdk check: dist refers only to declared dependencies and names no server internals');
}
