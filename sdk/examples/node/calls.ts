/**
 * A Node script using the sdk: a query, mutations with each kind of error handled, and local validation
 * with the server's own zod contracts. It prints what happened as one JSON line.
 *
 *   API_URL=http://127.0.0.1:3000/trpc API_KEY=wcb_... node calls.js
 */
import {
  type ApiErrorCode,
  createClient,
  errorCode,
  isAuthError,
  isConflict,
  isNotFound,
  isValidationError,
  type RouterInputs,
  type RouterOutputs,
  validationDetails,
  ZContactCreateInput,
} from '@whatsapp-crm/sdk';
import { EventSource } from 'eventsource';

type NewContact = RouterInputs['crm']['contacts']['create'];
type Contact = RouterOutputs['crm']['contacts']['create'];

const url = process.env.API_URL ?? 'http://127.0.0.1:3000/trpc';
const apiKey = process.env.API_KEY ?? '';
const phone = process.env.CONTACT_PHONE ?? '+14155550123';

const client = createClient({ url, apiKey, EventSource });

// A query: the server's own status.
const status = await client.stats.systemStatus.query();

// A mutation, checked first with the same contract the server applies.
const input: NewContact = { phone, name: 'Ada Lovelace', email: 'ada@example.com', tags: ['sdk'] };
const checkedLocally = ZContactCreateInput.safeParse(input).success;
const created: Contact = await client.crm.contacts.create.mutate(input);

// A query returning what the mutation stored; dates arrive as Date objects (superjson).
const fetched = await client.crm.contacts.get.query({ id: created.id });

// Invalid input: the server answers BAD_REQUEST with a message per field.
const badEmail = { phone: '+14155550199', email: 'not-an-email' };
const localIssues = ZContactCreateInput.safeParse(badEmail).error?.issues.map((i) => i.path.join('.')) ?? [];
let validation: { fieldErrors: Record<string, string[]>; message: string } | null = null;
try {
  await client.crm.contacts.create.mutate(badEmail);
} catch (err) {
  if (!isValidationError(err)) throw err;
  const details = validationDetails(err);
  validation = details && { fieldErrors: details.fieldErrors, message: details.message };
}

// A phone the server cannot read: rejected by its own rules, with the field named.
let phoneFieldErrors: Record<string, string[]> | null = null;
try {
  await client.crm.contacts.create.mutate({ phone: 'call me maybe' });
} catch (err) {
  phoneFieldErrors = validationDetails(err)?.fieldErrors ?? null;
}

// The same phone twice: CONFLICT.
let conflict = false;
try {
  await client.crm.contacts.create.mutate(input);
} catch (err) {
  conflict = isConflict(err);
}

// An id nobody has: NOT_FOUND.
let notFound = false;
try {
  await client.crm.contacts.get.query({ id: '00000000-0000-4000-8000-000000000000' });
} catch (err) {
  notFound = isNotFound(err);
}

// A key the server does not know: UNAUTHORIZED.
let authError = false;
let authCode: ApiErrorCode | null = null;
try {
  await createClient({ url, apiKey: 'wcb_not_a_real_key', EventSource }).stats.systemStatus.query();
} catch (err) {
  authError = isAuthError(err);
  authCode = errorCode(err);
}

console.log(
  JSON.stringify({
    query: { databaseReachable: status.database.reachable, version: status.version },
    mutation: {
      checkedLocally,
      id: created.id,
      phone: created.phone,
      createdAtIsDate: fetched.createdAt instanceof Date,
      fetchedName: fetched.name,
    },
    localIssues,
    validation,
    phoneFieldErrors,
    conflict,
    notFound,
    authError,
    authCode,
  }),
);
