import { TRPCError } from '@trpc/server';
import { ZodError } from 'zod';
import { ConfigError, loadConfig } from '../server/config';
import { DataDirInUseError, describeHolder } from '../server/db/client';
import { createLogger } from '../server/log';
import { loadPersona, PersonaError } from '../server/persona';
import { createRuntime, type Runtime } from '../server/runtime';
import { systemCaller } from '../server/services/auth';
import { createInnerContext } from '../server/trpc/context';
import { createCaller } from '../server/trpc/router';

/**
 * Runs a script against the configured database through the same procedures as the API, as the
 * server's own system caller. Workers are not started. When a running server holds the embedded data
 * folder, the script acts on that server's database through its loopback socket, so the server sees
 * the change at once and it persists; it never opens a second engine on the folder.
 */
export async function withCaller<T>(
  fn: (caller: ReturnType<typeof createCaller>, runtime: Runtime) => Promise<T>,
): Promise<T> {
  let runtime: Runtime;
  try {
    const config = loadConfig();
    const persona = loadPersona(config.personaPath);
    const log = createLogger({ logLevel: config.logLevel === 'info' ? 'warn' : config.logLevel });
    runtime = await createRuntime({ config, persona, log, workers: false, whenDataDirInUse: 'attach' });
  } catch (err) {
    if (err instanceof ConfigError || err instanceof PersonaError || err instanceof DataDirInUseError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(1);
    }
    throw err;
  }
  const holder = runtime.database.attachedTo;
  if (holder) process.stderr.write(`Acting on the database of ${describeHolder(holder)}.\n`);
  try {
    return await fn(
      createCaller(
        createInnerContext({ services: runtime.services, log: runtime.log, caller: systemCaller }),
      ),
      runtime,
    );
  } finally {
    await runtime.close();
  }
}

export function fail(message: string): never {
  process.stderr.write(`${message}\n`);
  process.exit(2);
}

/** A procedure's error as one readable line (field errors listed), for script output. */
export function describeError(err: unknown): string {
  if (err instanceof TRPCError) {
    if (err.cause instanceof ZodError) {
      return `${err.code}: ${err.cause.issues.map((i) => `${i.path.join('.') || 'input'}: ${i.message}`).join('; ')}`;
    }
    return `${err.code}: ${err.message}`;
  }
  return err instanceof Error ? err.message : String(err);
}
