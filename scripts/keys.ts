import { TRPCError } from '@trpc/server';
import { describeError, fail, withCaller } from './_cli';
import { parseCli } from './lib/command-line';

const usage = `Usage:
  npm run key:create -- --name NAME --role admin|agent
  npm run key:list
  npm run key:revoke -- --id KEY_ID`;

const cli = parseCli({
  usage,
  options: { name: { type: 'string' }, role: { type: 'string' }, id: { type: 'string' } },
  allowPositionals: true,
});
const args = cli.values;
const [command = cli.usageError('A command is required.'), ...extra] = cli.positionals;
if (extra.length) cli.usageError(`Unexpected argument "${extra[0]}".`);
const expected: Record<string, string[]> = { create: ['name', 'role'], list: [], revoke: ['id'] };
const required = Object.hasOwn(expected, command)
  ? expected[command]!
  : cli.usageError(`Unknown command "${command}".`);
for (const option of Object.keys(args)) {
  if (!required.includes(option)) cli.usageError(`--${option} does not apply to ${command}.`);
}
for (const option of required) {
  if (args[option as keyof typeof args] === undefined) cli.usageError(`--${option} is required.`);
}
if (args.role !== undefined && args.role !== 'admin' && args.role !== 'agent') {
  cli.usageError(`--role must be admin or agent (got "${args.role}").`);
}

try {
  await withCaller(async (caller) => {
    switch (command) {
      case 'create': {
        const key = await caller.keys.create({ name: args.name!, role: args.role as 'admin' | 'agent' });
        process.stdout.write(
          `Created ${key.role} key "${key.name}" (id ${key.id}). It is shown only now:\n\n  ${key.key}\n\n`,
        );
        return;
      }
      case 'list': {
        const keys = await caller.keys.list();
        if (!keys.length) process.stdout.write('No keys.\n');
        for (const k of keys) {
          const state = k.revokedAt ? `revoked ${k.revokedAt.toISOString()}` : 'active';
          process.stdout.write(
            `${k.id}  ${k.prefix}…  ${k.role.padEnd(5)}  ${state.padEnd(34)}  ${k.name}\n`,
          );
        }
        return;
      }
      case 'revoke': {
        const key = await caller.keys.revoke({ id: args.id! });
        process.stdout.write(`Revoked key "${key.name}" (${key.prefix}…).\n`);
        return;
      }
      default:
        fail(usage);
    }
  });
} catch (err) {
  if (err instanceof TRPCError) fail(describeError(err));
  throw err;
}
