import { TRPCError } from '@trpc/server';
import { describeError, fail, parseArgs, withCaller } from './_cli';

const usage = `Usage:
  npm run key:create -- --name NAME --role admin|agent
  npm run key:list
  npm run key:revoke -- --id KEY_ID`;

const [command, ...rest] = process.argv.slice(2);
const args = parseArgs(rest);

try {
  await withCaller(async (caller) => {
    switch (command) {
      case 'create': {
        if (typeof args.name !== 'string' || typeof args.role !== 'string') fail(usage);
        const key = await caller.keys.create({ name: args.name, role: args.role as 'admin' | 'agent' });
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
        if (typeof args.id !== 'string') fail(usage);
        const key = await caller.keys.revoke({ id: args.id });
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
