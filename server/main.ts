import { buildApp } from './app';
import { ConfigError, loadConfig, secretsOf } from './config';
import { DataDirInUseError } from './db/client';
import { DriverCheckError } from './db/driver-check';
import { createLogger, wantsPrettyLogs } from './log';
import { loadPersona, PersonaError } from './persona';
import { createRuntime } from './runtime';

async function main() {
  let config: ReturnType<typeof loadConfig>;
  let persona: ReturnType<typeof loadPersona>;
  try {
    config = loadConfig();
    persona = loadPersona(config.personaPath);
  } catch (err) {
    if (err instanceof ConfigError || err instanceof PersonaError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(1);
    }
    throw err;
  }

  const pretty = wantsPrettyLogs({
    env: config.env,
    logPretty: config.logPretty,
    isTTY: process.stdout.isTTY,
  });
  const logger = createLogger(config, secretsOf(config), undefined, { pretty });
  let runtime: Awaited<ReturnType<typeof createRuntime>>;
  try {
    runtime = await createRuntime({ config, persona, log: logger, workers: config.role !== 'web' });
  } catch (err) {
    // Another process runs this embedded data folder's engine: opening it too would corrupt it.
    // A driver that would crash on the first database outage is refused before it serves.
    if (err instanceof DataDirInUseError || err instanceof DriverCheckError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(1);
    }
    throw err;
  }
  const integrations = runtime.services.system.integrations();
  for (const [name, state] of Object.entries(integrations)) {
    if (!state.configured) logger.warn({ integration: name }, state.detail);
  }

  if (config.bootstrapAdminKey) {
    const key = await runtime.services.auth.bootstrapAdminKey();
    if (key) {
      // Shown once on the terminal, never logged: the database keeps only its hash.
      process.stdout.write(
        `\nFirst start: created an admin API key. Store it now, it is not shown again:\n\n  ${key.key}\n\n` +
          `Use it as "Authorization: Bearer <key>". Create more with: npm run key:create -- --name NAME --role agent\n\n`,
      );
    }
  }

  const app = config.role === 'worker' ? null : await buildApp({ runtime, logger });
  if (app) await app.listen({ host: config.host, port: config.port });
  logger.info(
    { role: config.role, database: runtime.database.mode, port: config.port },
    app ? 'server started' : 'worker started',
  );

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    const timer = setTimeout(() => {
      logger.error('shutdown timed out; exiting');
      process.exit(1);
    }, config.http.shutdownTimeoutMs + 5000);
    timer.unref();
    try {
      // Stop taking requests and let in-flight ones finish, then drain jobs and close the pool.
      await app?.close();
      await runtime.close();
      logger.info('stopped');
      process.exit(0);
    } catch (err) {
      logger.error({ err }, 'error during shutdown');
      process.exit(1);
    }
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
}

main().catch((err) => {
  process.stderr.write(
    `Failed to start: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
  );
  process.exit(1);
});
