import { createHash } from 'node:crypto';
import { parseArgs } from 'node:util';
import { SignJWT } from 'jose';
import { ConfigError, loadConfig } from '../server/config';
import { supabaseIssuer } from '../server/services/staff-auth';
import { describeError, fail, withCaller } from './_cli';

/**
 * Local development without a Supabase project: prints a sign-in token signed with the configured
 * SUPABASE_JWT_SECRET (HS256), with the claims Supabase Auth puts in an access token, so the server's
 * whole sign-in path is the production one. Never available when NODE_ENV=production.
 *
 * The token names a Supabase user derived from the email (the same `sub` every time), so an invited
 * person is linked on their first call and later tokens keep working. `--create-admin` first creates
 * the email as an admin when the staff table has no active admin yet (the first person of a new team).
 */

const usage = `Usage:
  npm run staff:token -- --email EMAIL [--name NAME] [--ttl SECONDS] [--create-admin]

  --email         the person's email (invited beforehand with staff.invite, or --create-admin)
  --name          display name used by --create-admin (default: the email's local part)
  --ttl           token lifetime in seconds, 60-86400 (default 3600)
  --create-admin  create EMAIL as an admin when the team has no active admin yet`;

/** Supabase's local stack issues tokens as this when no SUPABASE_URL is configured. */
const LOCAL_ISSUER = 'http://127.0.0.1:54321/auth/v1';

let args: ReturnType<typeof parse>;
function parse() {
  return parseArgs({
    options: {
      email: { type: 'string' },
      name: { type: 'string' },
      ttl: { type: 'string', default: '3600' },
      'create-admin': { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
    strict: true,
  }).values;
}
try {
  args = parse();
} catch (err) {
  fail(`${err instanceof Error ? err.message : String(err)}\n\n${usage}`);
}
if (args.help) {
  process.stdout.write(`${usage}\n`);
  process.exit(0);
}

let config: ReturnType<typeof loadConfig>;
try {
  config = loadConfig();
} catch (err) {
  if (err instanceof ConfigError) fail(err.message);
  throw err;
}
if (config.env === 'production') {
  fail('staff:token is for local development and is refused when NODE_ENV=production');
}
const secret = config.signIn.jwtSecret;
if (!secret) {
  fail(
    'SUPABASE_JWT_SECRET is not set: staff:token signs with it. Set it (any random string of 32+ characters ' +
      'for local development, or the JWT secret of your local Supabase stack) and restart the server with it.',
  );
}
const email = args.email?.trim().toLowerCase();
if (!email || !/^[^\s@]+@[^\s@]+$/.test(email)) fail(`--email must be an email address\n\n${usage}`);
const ttl = Number(args.ttl);
if (!Number.isInteger(ttl) || ttl < 60 || ttl > 86_400) fail('--ttl must be whole seconds from 60 to 86400');

if (args['create-admin']) {
  try {
    await withCaller(async (caller) => {
      const { items } = await caller.staff.list({ includeInactive: true });
      if (items.some((s) => 'email' in s && s.email === email)) return;
      if (items.some((s) => s.role === 'admin' && 'active' in s && s.active)) {
        fail('The team has an admin already: ask an admin to invite this email (staff.invite)');
      }
      const displayName = args.name?.trim() || email.split('@')[0]!;
      await caller.staff.invite({ email, displayName, role: 'admin' });
      process.stderr.write(`Created ${email} as the team's first admin.\n`);
    });
  } catch (err) {
    fail(describeError(err));
  }
}

/** A stable user id per email, shaped as the UUID Supabase uses for `sub`. */
const hex = createHash('sha256').update(`staff-token:${email}`).digest('hex');
const sub = `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-8${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
const now = Math.floor(Date.now() / 1000);
const token = await new SignJWT({
  email,
  email_verified: true,
  phone: '',
  role: 'authenticated',
  aal: 'aal1',
  is_anonymous: false,
  app_metadata: { provider: 'email', providers: ['email'] },
  user_metadata: { email, email_verified: true },
})
  .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
  .setSubject(sub)
  .setAudience('authenticated')
  .setIssuer(config.signIn.supabaseUrl ? supabaseIssuer(config.signIn.supabaseUrl) : LOCAL_ISSUER)
  .setIssuedAt(now)
  .setExpirationTime(now + ttl)
  .sign(new TextEncoder().encode(secret));
process.stdout.write(`${token}\n`);
