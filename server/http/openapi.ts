import fastifyApiReference from '@scalar/fastify-api-reference';
import { getTRPCErrorShape, TRPCError } from '@trpc/server';
import { getHTTPStatusCodeFromError } from '@trpc/server/http';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { generateOpenApiDocument, type OpenAPIObject, type OpenApiRouter } from 'trpc-to-openapi';
import { globalRegistry, ZodError, type z } from 'zod';
import type { Logger } from '../logger';
import { once } from '../once';
import type { Services } from '../services';
import { bearerToken, createRequestContext } from '../trpc/context';
import type { Meta } from '../trpc/init';
import { appRouter, createCaller } from '../trpc/router';

/**
 * The REST door: every procedure with `meta.openapi` answers plain JSON at `/api/v1<path>`, documented
 * by an OpenAPI 3.1 document generated from the same router and contracts (`/openapi.json`) and an
 * interactive reference (`/docs`). A REST call runs the procedure through `createCaller`, so the
 * procedure's auth rule, input check, validation and domain errors are the same as over /trpc.
 *
 * - Input: path parameters, then the query string (GET, DELETE) or a JSON object body (POST, PATCH).
 *   Query values are converted by the contract (numbers, booleans, repeated keys for arrays); ISO 8601
 *   strings become dates wherever the contract takes a date, in the query or the body, before the
 *   input check, so an out-of-range date is refused by name like over /trpc.
 * - Output: the procedure's output as JSON; dates are ISO 8601 strings. No superjson envelope.
 * - Errors: `{ code, message, issues? }` with the HTTP status of the code (400, 401, 403, 404, 409,
 *   412, 429, 500). Unexpected errors are masked by the router's error formatter and logged.
 * - Credentials: `Authorization: Bearer <key>` or `X-API-Key: <key>`.
 * - Not offered: subscriptions (SSE only), and procedures whose input is a union (`bot.status`,
 *   `bot.setEnabled`: use the conversation routes `owner` and `hand-back`, and `GET conversations/{id}`;
 *   `webhooks.replay`: over /trpc).
 */

export const REST_PREFIX = '/api/v1';
const API_KEY_HEADER = 'x-api-key';
const MAX_ISSUES = 20;

type Auth = NonNullable<Meta['auth']>;
interface AnyProcedure {
  _def: { type: 'query' | 'mutation' | 'subscription'; meta?: Meta; inputs: z.ZodType[] };
}

interface RestRoute {
  /** The procedure's dotted path, e.g. `crm.contacts.get`. */
  path: string;
  method: NonNullable<Meta['openapi']>['method'];
  url: string;
  auth: Auth;
  input: z.ZodType | undefined;
  pathParams: string[];
}

/** The procedures offered over REST, from their `meta.openapi`. */
export function restRoutes(): RestRoute[] {
  const routes: RestRoute[] = [];
  for (const [path, proc] of Object.entries(
    appRouter._def.procedures as unknown as Record<string, AnyProcedure>,
  )) {
    const { meta, type, inputs } = proc._def;
    if (!meta?.openapi || meta.openapi.enabled === false || type === 'subscription') continue;
    const url = meta.openapi.path;
    routes.push({
      path,
      method: meta.openapi.method,
      url,
      auth: meta.auth ?? 'public',
      input: inputs[0],
      pathParams: [...url.matchAll(/\{(\w+)\}/g)].map((m) => m[1] as string),
    });
  }
  return routes;
}

/** The credential of a request: a bearer token, or on REST routes the `X-API-Key` header. */
export function requestToken(req: FastifyRequest): string | null {
  const bearer = bearerToken(req.headers.authorization);
  if (bearer || !req.url.startsWith(`${REST_PREFIX}/`)) return bearer;
  const key = req.headers[API_KEY_HEADER];
  return typeof key === 'string' && /^\S+$/.test(key.trim()) ? key.trim() : null;
}

// ---------------------------------------------------------------------------------------------------
// The document

const ROLE_TEXT: Record<Auth, string> = {
  public: 'No credentials needed.',
  agent: 'Needs an agent or admin key.',
  admin: 'Needs an admin key.',
};

const TAGS: [prefix: string, tag: string][] = [
  ['crm.contacts.', 'Contacts'],
  ['crm.deals.', 'Deals'],
  ['crm.tasks.', 'Tasks'],
  ['crm.activities.', 'Activities'],
  ['conversations.', 'Conversations'],
  ['bot.setOwner', 'Conversations'],
  ['bot.handBack', 'Conversations'],
  ['bot.history', 'Conversations'],
  ['bot.', 'Bot'],
  ['leads.', 'Leads'],
  ['campaigns.', 'Campaigns'],
  ['stats.', 'Stats'],
  ['keys.', 'API keys'],
  ['system.', 'System'],
  ['webhooks.', 'Webhooks'],
];

const tagOf = (path: string) => TAGS.find(([prefix]) => path.startsWith(prefix))?.[1] ?? 'Other';

/** Marks every date in the procedures' contracts as `format: date-time` in the generated schemas. */
function markDates(): void {
  const seen = new Set<unknown>();
  const visit = (schema: unknown): void => {
    if (!schema || typeof schema !== 'object' || seen.has(schema)) return;
    seen.add(schema);
    const def = (schema as { _zod?: { def?: Record<string, unknown> } })._zod?.def;
    if (!def) return;
    if (def.type === 'date') {
      const s = schema as z.ZodType;
      if (!globalRegistry.has(s))
        globalRegistry.add(s, { override: { type: 'string', format: 'date-time' } });
      return;
    }
    for (const key of ['innerType', 'element', 'in', 'out', 'left', 'right', 'keyType', 'valueType']) {
      visit(def[key]);
    }
    for (const key of ['options', 'items']) if (Array.isArray(def[key])) for (const o of def[key]) visit(o);
    if (def.shape && typeof def.shape === 'object') for (const v of Object.values(def.shape)) visit(v);
    if (typeof def.getter === 'function') visit((def.getter as () => unknown)());
  };
  for (const proc of Object.values(appRouter._def.procedures as unknown as Record<string, AnyProcedure>)) {
    const d = proc._def as AnyProcedure['_def'] & { output?: unknown };
    for (const i of d.inputs) visit(i);
    visit(d.output);
  }
}

type SchemaObject = NonNullable<NonNullable<OpenAPIObject['components']>['schemas']>[string];

const ERROR_SCHEMA = {
  type: 'object',
  required: ['code', 'message'],
  properties: {
    code: { type: 'string', description: 'The error code, e.g. BAD_REQUEST, UNAUTHORIZED, NOT_FOUND.' },
    message: { type: 'string' },
    issues: {
      type: 'array',
      description: 'With BAD_REQUEST: each field at fault.',
      items: {
        type: 'object',
        required: ['path', 'message'],
        properties: { path: { type: 'string' }, message: { type: 'string' } },
      },
    },
  },
} as const;

/** The OpenAPI 3.1 document of the REST routes (built once, with the first call's version). */
export const openApiDocument = once((version: string = '1.0.0'): OpenAPIObject => {
  markDates();
  const doc = generateOpenApiDocument(appRouter as unknown as OpenApiRouter, {
    title: 'WhatsApp CRM bot API',
    description:
      'REST access to the CRM, conversations, leads, campaigns and settings: plain JSON in and out, ' +
      'dates as ISO 8601 strings. The same procedures are served to the TypeScript sdk over tRPC at ' +
      '`/trpc`. Send an API key as `Authorization: Bearer <key>` or `X-API-Key: <key>`.',
    version,
    baseUrl: REST_PREFIX,
    securitySchemes: {
      apiKey: { type: 'apiKey', in: 'header', name: 'X-API-Key', description: 'An API key (`wcb_…`).' },
      bearer: { type: 'http', scheme: 'bearer', description: 'The same API key as a bearer token.' },
    },
  });
  const byOperation = new Map(restRoutes().map((r) => [r.path.replace(/\./g, '-'), r]));
  doc.components ??= {};
  doc.components.schemas = { ...doc.components.schemas, Error: ERROR_SCHEMA as unknown as SchemaObject };
  const errorRef = { content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } };
  for (const item of Object.values(doc.paths ?? {})) {
    for (const op of Object.values(item as Record<string, Record<string, unknown>>)) {
      const route = byOperation.get(String(op.operationId));
      if (!route) continue;
      op.tags = [tagOf(route.path)];
      op.summary ??= route.path;
      op.description = [op.description, `${ROLE_TEXT[route.auth]} tRPC: \`${route.path}\`.`]
        .filter(Boolean)
        .join('\n\n');
      op['x-auth'] = route.auth;
      if (route.auth === 'public') delete op.security;
      const responses = (op.responses ?? {}) as Record<string, unknown>;
      const errors: Record<string, string> = {
        400: 'Invalid input; `issues` names each field at fault',
        ...(route.auth === 'public'
          ? {}
          : { 401: 'No valid API key', ...(route.auth === 'admin' ? { 403: 'Needs an admin key' } : {}) }),
        404: 'Not found',
        429: 'Too many requests (see Retry-After)',
        500: 'Internal server error',
      };
      for (const [status, description] of Object.entries(errors)) {
        responses[status] = { description, ...errorRef };
      }
      op.responses = responses;
    }
  }
  return doc;
});

// ---------------------------------------------------------------------------------------------------
// Input conversion

const ISO_DATE =
  /^[+-]?\d{4,6}-\d{2}-\d{2}(?:[Tt ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:[Zz]|[+-]\d{2}:?\d{2})?)?$/;
const NUMBER = /^-?(?:\d+|\d*\.\d+)(?:[eE][+-]?\d+)?$/;

function defOf(schema: unknown): Record<string, unknown> | undefined {
  return (schema as { _zod?: { def?: Record<string, unknown> } } | undefined)?._zod?.def;
}

/** The schema under optional, nullable, default and pipe wrappers (the input side of a pipe). */
function unwrap(schema: unknown): Record<string, unknown> | undefined {
  let def = defOf(schema);
  for (let i = 0; def && i < 16; i++) {
    if (
      ['optional', 'nullable', 'default', 'prefault', 'readonly', 'catch', 'nonoptional'].includes(
        String(def.type),
      )
    ) {
      def = defOf(def.innerType);
    } else if (def.type === 'pipe') def = defOf(def.in);
    else if (def.type === 'lazy' && typeof def.getter === 'function')
      def = defOf((def.getter as () => unknown)());
    else break;
  }
  return def;
}

/**
 * Turns plain JSON (or query strings) into what the contract takes: ISO strings into dates where it
 * takes a date, and, from the query string, numeric and boolean strings into numbers and booleans
 * and a lone value into a one-item array. Anything else is left as sent, for the contract to refuse.
 */
function convert(schema: unknown, value: unknown, fromQuery: boolean, depth = 0): unknown {
  const def = unwrap(schema);
  if (!def || depth > 32 || value === null || value === undefined) return value;
  switch (def.type) {
    case 'date':
      return typeof value === 'string' && ISO_DATE.test(value) ? new Date(value) : value;
    case 'number':
      return fromQuery && typeof value === 'string' && NUMBER.test(value) ? Number(value) : value;
    case 'boolean':
      if (fromQuery && value === 'true') return true;
      if (fromQuery && value === 'false') return false;
      return value;
    case 'array': {
      const list = fromQuery && !Array.isArray(value) ? [value] : value;
      return Array.isArray(list) ? list.map((v) => convert(def.element, v, fromQuery, depth + 1)) : list;
    }
    case 'object': {
      if (typeof value !== 'object' || Array.isArray(value)) return value;
      const shape = (def.shape ?? {}) as Record<string, unknown>;
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(value)) {
        out[k] = Object.hasOwn(shape, k) ? convert(shape[k], v, fromQuery, depth + 1) : v;
      }
      return out;
    }
    case 'union': {
      // A date among the options (e.g. date or null) takes an ISO string.
      const options = (def.options ?? []) as unknown[];
      if (
        typeof value === 'string' &&
        ISO_DATE.test(value) &&
        options.some((o) => unwrap(o)?.type === 'date')
      ) {
        return new Date(value);
      }
      return value;
    }
    default:
      return value;
  }
}

const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

class RestInputError extends Error {}

function restInput(route: RestRoute, req: FastifyRequest): unknown {
  const params = (req.params ?? {}) as Record<string, string>;
  const fromQuery = route.method === 'GET' || route.method === 'DELETE';
  const source: unknown = fromQuery ? { ...(req.query as Record<string, unknown>) } : req.body;
  if (!fromQuery && source !== undefined && source !== null && !isPlainObject(source)) {
    throw new RestInputError('The request body must be a JSON object');
  }
  const pathInput: Record<string, string> = {};
  for (const name of route.pathParams) if (params[name] !== undefined) pathInput[name] = params[name];
  const merged = { ...((source as Record<string, unknown> | null | undefined) ?? {}), ...pathInput };
  if (!route.input) return undefined;
  // No input at all: leave it undefined, so a contract with a default applies it.
  if (Object.keys(merged).length === 0 && (fromQuery || source === undefined || source === null))
    return undefined;
  return convert(route.input, merged, fromQuery);
}

// ---------------------------------------------------------------------------------------------------
// Errors

function errorBody(error: TRPCError, route: RestRoute, input: unknown) {
  const shape = getTRPCErrorShape({
    config: appRouter._def._config,
    error,
    type: 'unknown',
    path: route.path,
    input,
    ctx: undefined,
  }) as { message: string };
  const body: { code: string; message: string; issues?: { path: string; message: string }[] } = {
    code: error.code,
    message: shape.message,
  };
  if (error.code === 'BAD_REQUEST' && error.cause instanceof ZodError) {
    body.issues = error.cause.issues.slice(0, MAX_ISSUES).map((i) => ({
      path: i.path.map(String).join('.'),
      message: i.message,
    }));
  }
  const fieldErrors = (error.cause as { fieldErrors?: Record<string, string[]> } | undefined)?.fieldErrors;
  if (error.code === 'BAD_REQUEST' && !body.issues && fieldErrors) {
    body.issues = Object.entries(fieldErrors).flatMap(([path, messages]) =>
      messages.map((message) => ({ path, message })),
    );
  }
  return body;
}

function toTRPCError(cause: unknown): TRPCError {
  if (cause instanceof TRPCError) return cause;
  if (cause instanceof RestInputError) return new TRPCError({ code: 'BAD_REQUEST', message: cause.message });
  return new TRPCError({ code: 'INTERNAL_SERVER_ERROR', cause: cause instanceof Error ? cause : undefined });
}

// ---------------------------------------------------------------------------------------------------
// The Fastify plugin

export interface OpenApiRoutesOptions {
  services: Services;
  /** The server's API version, shown in the document's `info.version`. */
  version?: string;
}

/** `/openapi.json`, `/docs` (served from this server, no CDN) and the REST routes under `/api/v1`. */
export async function openApiRoutes(app: FastifyInstance, opts: OpenApiRoutesOptions): Promise<void> {
  const { services } = opts;
  const doc = openApiDocument(opts.version);
  const body = JSON.stringify(doc);
  app.get('/openapi.json', async (_req, reply) => reply.type('application/json; charset=utf-8').send(body));

  await app.register(fastifyApiReference, {
    routePrefix: '/docs',
    logLevel: 'warn',
    configuration: {
      url: '/openapi.json',
      pageTitle: 'WhatsApp CRM bot API',
      // Everything the page needs comes from this server: its script (the plugin serves the bundled
      // copy at /docs/js/scalar.js), no web fonts, no request proxy, no telemetry.
      withDefaultFonts: false,
      proxyUrl: '',
      telemetry: false,
      hideClientButton: true,
      agent: { disabled: true },
      mcp: { disabled: true },
      persistAuth: false,
    } as Record<string, unknown>,
  });

  for (const route of restRoutes()) {
    app.route({
      method: route.method,
      url: REST_PREFIX + route.url.replace(/\{(\w+)\}/g, ':$1'),
      handler: (req, reply) => handle(route, req, reply, services),
    });
  }
}

async function handle(route: RestRoute, req: FastifyRequest, reply: FastifyReply, services: Services) {
  let input: unknown;
  try {
    input = restInput(route, req);
    const token = requestToken(req);
    const ctx = createRequestContext({
      services,
      log: req.log as unknown as Logger,
      authorization: token ? `Bearer ${token}` : undefined,
      resolved: req.apiCaller,
    });
    const caller = createCaller(ctx) as unknown as Record<string, unknown>;
    const fn = route.path
      .split('.')
      .reduce<unknown>((node, key) => (node as Record<string, unknown>)[key], caller);
    const data = await (fn as (input: unknown) => Promise<unknown>)(input);
    return reply.code(200).send(data);
  } catch (cause) {
    const error = toTRPCError(cause);
    if (error.code === 'INTERNAL_SERVER_ERROR') {
      req.log.error({ err: error.cause ?? error, path: route.path }, 'procedure failed');
    }
    return reply.code(getHTTPStatusCodeFromError(error)).send(errorBody(error, route, input));
  }
}
