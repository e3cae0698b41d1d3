import { type ParseArgsOptionsConfig, parseArgs } from 'node:util';

/** The option values `util.parseArgs` gives for these option declarations. */
export type OptionValues<O extends ParseArgsOptionsConfig> = ReturnType<
  typeof parseArgs<{ options: O; strict: true; allowPositionals: true }>
>['values'];

export type CommandLine<O extends ParseArgsOptionsConfig> =
  | { ok: true; help: boolean; values: OptionValues<O>; positionals: string[] }
  | { ok: false; error: string };

const helpOption = { help: { type: 'boolean', short: 'h' } } as const;

/**
 * Reads a script's arguments with `util.parseArgs` in strict mode (`--name value` and `--name=value`;
 * an unknown option, a missing value or an unexpected positional is an error). `--help` / `-h` is
 * always understood. Never exits: `parseCli` does that for scripts.
 */
export function parseCommandLine<const O extends ParseArgsOptionsConfig>(
  argv: string[],
  spec: { options: O; allowPositionals?: boolean },
): CommandLine<O> {
  try {
    const parsed = parseArgs({
      args: argv,
      options: { ...spec.options, ...helpOption },
      strict: true,
      allowPositionals: spec.allowPositionals ?? false,
    });
    const { help, ...values } = parsed.values as Record<string, unknown>;
    return {
      ok: true,
      help: help === true,
      values: values as OptionValues<O>,
      positionals: parsed.positionals,
    };
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    if (typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS_')) {
      return { ok: false, error: (err as Error).message };
    }
    throw err;
  }
}

/** A whole number read from an option value; a message naming the option when it is not one. */
export function wholeNumber(
  name: string,
  value: string | undefined,
  opts: { min?: number } = {},
): { ok: true; value: number | undefined } | { ok: false; error: string } {
  if (value === undefined) return { ok: true, value: undefined };
  const min = opts.min ?? 0;
  const n = value.trim() === '' ? Number.NaN : Number(value);
  if (!Number.isSafeInteger(n) || n < min) {
    return { ok: false, error: `--${name} must be a whole number of at least ${min} (got "${value}")` };
  }
  return { ok: true, value: n };
}

export interface Cli<O extends ParseArgsOptionsConfig> {
  values: OptionValues<O>;
  positionals: string[];
  /** Prints the message and the usage to stderr and exits with code 2. */
  usageError(message: string): never;
  /** The option as a whole number (at least `min`, 0 unless given), or `fallback` when absent. */
  int(name: keyof O & string, fallback: number, min?: number): number;
  int(name: keyof O & string, fallback?: undefined, min?: number): number | undefined;
}

/**
 * A script's command line: `--help` prints the usage and exits 0; an unknown option, a missing or
 * bad value prints the error and the usage to stderr and exits 2.
 */
export function parseCli<const O extends ParseArgsOptionsConfig>(spec: {
  usage: string;
  options: O;
  allowPositionals?: boolean;
  argv?: string[];
}): Cli<O> {
  const usageError = (message: string): never => {
    process.stderr.write(`${message}\n\n${spec.usage}\n`);
    process.exit(2);
  };
  const line = parseCommandLine(spec.argv ?? process.argv.slice(2), spec);
  if (!line.ok) return usageError(line.error);
  if (line.help) {
    process.stdout.write(`${spec.usage}\n`);
    process.exit(0);
  }
  const values = line.values;
  return {
    values,
    positionals: line.positionals,
    usageError,
    int(name: string, fallback?: number, min?: number) {
      const raw = (values as Record<string, unknown>)[name];
      const read = wholeNumber(name, typeof raw === 'string' ? raw : undefined, { min });
      if (!read.ok) return usageError(read.error);
      return (read.value ?? fallback) as number;
    },
  } as Cli<O>;
}
