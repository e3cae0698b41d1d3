import { copyFile, mkdir, mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { cleanEnv, run, sdkDir } from './support';

/** The consumer's own tools; the sdk's dependencies come only from its package.json. */
export const CONSUMER_DEV_DEPENDENCIES = {
  typescript: '5.9.3',
  '@types/node': '20.19.43',
};

/**
 * A strict tsconfig as a Node application using the sdk would have it. Library declarations are skipped,
 * as in most projects; the sdk's own declarations are checked all the same by `copyDeclarationsAsSource`.
 */
export const CONSUMER_TSCONFIG = {
  compilerOptions: {
    target: 'ES2022',
    module: 'NodeNext',
    moduleResolution: 'NodeNext',
    lib: ['ES2022', 'ESNext.Disposable'],
    types: ['node'],
    strict: true,
    noUncheckedIndexedAccess: true,
    exactOptionalPropertyTypes: true,
    noImplicitOverride: true,
    skipLibCheck: true,
    outDir: 'out',
    rootDir: '.',
    noEmitOnError: false,
  },
};

/**
 * The installed package's declarations (every `.d.ts` under dist, `react.d.ts` only where the React peers are
 * installed), copied into the consumer as source files: skipLibCheck does not apply to them, so every
 * declaration the sdk publishes is type-checked in strict mode without re-checking the whole of zod and
 * @types/node. Their relative imports (`./chunks/types.js`) resolve to the copies.
 */
export async function copyDeclarationsAsSource(
  dir: string,
  opts: { react?: boolean } = {},
): Promise<string[]> {
  const from = path.join(dir, 'node_modules/@whatsapp-crm/sdk/dist');
  const names: string[] = [];
  const walk = async (rel: string) => {
    for (const e of await readdir(path.join(from, rel), { withFileTypes: true })) {
      const file = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) await walk(file);
      else if (e.name.endsWith('.d.ts') && (opts.react || file !== 'react.d.ts')) {
        const target = `sdk-declarations/${file.replace(/\.d\.ts$/, '.ts')}`;
        await mkdir(path.dirname(path.join(dir, target)), { recursive: true });
        await copyFile(path.join(from, file), path.join(dir, target));
        names.push(target);
      }
    }
  };
  await walk('');
  return names.sort();
}

/** Which of the sdk README's install sections a project follows. */
export type ReadmeInstall = 'node' | 'react';

/**
 * The `npm install` lines of the sdk README's Install section, as argument lists: `node` gets the lines for
 * Node scripts (ESM or CommonJS), `react` the line with the React integration.
 */
export async function readmeInstallCommands(which: ReadmeInstall): Promise<string[][]> {
  const readme = await readFile(path.join(sdkDir, 'README.md'), 'utf8');
  const section = readme.slice(
    readme.indexOf('## Install'),
    readme.indexOf('\n## ', readme.indexOf('## Install') + 1),
  );
  const lines = [...section.matchAll(/^npm install (.+)$/gm)].map((m) => m[1]!.trim().split(/\s+/));
  const react = (args: string[]) => args.some((a) => a.startsWith('@trpc/tanstack-react-query'));
  const picked = lines.filter((args) => (which === 'react' ? react(args) : !react(args)));
  if (!picked.length) throw new Error(`the sdk README has no ${which} install line`);
  return picked;
}

export interface ConsumerProject {
  dir: string;
  tarball: string;
  /** The files `npm pack` put in the tarball. */
  packedFiles: string[];
  installMs: number;
  /** The README lines the project ran, as written there. */
  installCommands: string[];
}

/**
 * Packs the sdk and installs the tarball into a new project in the OS temp folder, outside the repository,
 * so nothing resolves through the repository's node_modules. The project runs the sdk README's own install
 * lines for `readme` (with the tarball in place of `@whatsapp-crm/sdk`), then its own dev tools. npm prefers
 * its local cache, so only the npm registry (if anything) needs to be reachable.
 */
export async function createConsumerProject(
  opts: { readme?: ReadmeInstall; devDependencies?: Record<string, string> } = {},
): Promise<ConsumerProject> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'wcb-sdk-consumer-'));
  const env = cleanEnv();
  const packed = await run('npm', ['pack', '--json', '--pack-destination', dir], { cwd: sdkDir, env });
  if (packed.code !== 0) throw new Error(`npm pack failed:\n${packed.stderr}`);
  const info = JSON.parse(packed.stdout) as { filename: string; files: { path: string }[] }[];
  const tarball = info[0]!.filename;

  await writeFile(
    path.join(dir, 'package.json'),
    JSON.stringify(
      {
        name: 'sdk-consumer',
        version: '1.0.0',
        private: true,
        type: 'module',
        devDependencies: { ...CONSUMER_DEV_DEPENDENCIES, ...opts.devDependencies },
      },
      null,
      2,
    ),
  );
  const commands = await readmeInstallCommands(opts.readme ?? 'node');
  const started = Date.now();
  for (const args of commands) {
    const withTarball = args.map((a) => (a === '@whatsapp-crm/sdk' ? `./${tarball}` : a));
    const installed = await run(
      'npm',
      [
        'install',
        ...withTarball,
        '--prefer-offline',
        '--no-audit',
        '--no-fund',
        '--ignore-scripts',
        '--loglevel=error',
      ],
      { cwd: dir, env, timeoutMs: 300_000 },
    );
    if (installed.code !== 0)
      throw new Error(`npm install ${args.join(' ')} failed:\n${installed.stdout}\n${installed.stderr}`);
  }
  return {
    dir,
    tarball,
    packedFiles: info[0]!.files.map((f) => f.path).sort(),
    installMs: Date.now() - started,
    installCommands: commands.map((args) => `npm install ${args.join(' ')}`),
  };
}

/** Writes files (text, or copies of files relative to the project) and a tsconfig checking the .ts ones. */
export async function writeConsumerFiles(
  dir: string,
  files: Record<string, string>,
  copies: Record<string, string> = {},
  alsoCheck: string[] = [],
): Promise<string[]> {
  for (const [name, text] of Object.entries(files)) await writeFile(path.join(dir, name), text);
  for (const [name, from] of Object.entries(copies))
    await copyFile(path.resolve(dir, from), path.join(dir, name));
  const names = [...Object.keys(files), ...Object.keys(copies)];
  await writeFile(
    path.join(dir, 'tsconfig.json'),
    JSON.stringify(
      { ...CONSUMER_TSCONFIG, files: [...names, ...alsoCheck].filter((n) => /\.c?ts$/.test(n)) },
      null,
      2,
    ),
  );
  return names;
}

export interface Diagnostic {
  file: string;
  line: number;
  code: string;
  message: string;
}

/** Runs the consumer's own TypeScript over its tsconfig and returns every diagnostic. */
export async function typecheck(dir: string, extraArgs: string[] = []) {
  const tsc = path.join(dir, 'node_modules/typescript/bin/tsc');
  const res = await run(process.execPath, [tsc, '-p', 'tsconfig.json', '--pretty', 'false', ...extraArgs], {
    cwd: dir,
    env: cleanEnv(),
    timeoutMs: 180_000,
  });
  const diagnostics: Diagnostic[] = [];
  for (const m of res.stdout.matchAll(/^(.+?)\((\d+),\d+\): error (TS\d+): (.*)$/gm)) {
    diagnostics.push({ file: m[1]!, line: Number(m[2]), code: m[3]!, message: m[4]! });
  }
  return { ...res, diagnostics };
}

export async function readJson<T>(file: string): Promise<T> {
  return JSON.parse(await readFile(file, 'utf8')) as T;
}
