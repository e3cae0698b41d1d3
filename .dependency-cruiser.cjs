/**
 * The import rule of server/ and drizzle/, checked by `npm run lint:deps` (part of `npm run lint`).
 *
 * Layers, top to bottom; a module may import its own layer and the layers below it, never above:
 *   entry            server/main.ts, runtime.ts, app.ts
 *   http adapters    server/trpc/, server/http/, server/webhook/
 *   services         server/services/
 *   background       server/pipeline/, server/campaigns/ (job handlers)
 *   knowledge        server/knowledge/ (passages, embedding jobs, retrieval)
 *   conversation     server/conversation/ (ownership, outbox, hand-off, statuses, split, prompt, send-queue names)
 *   jobs, events     server/jobs/, server/events/
 *   integrations     server/integrations/ (OpenAI, gateways, outbound webhook posts, send policy)
 *   queries          server/db/queries/ (all SQL)
 *   database         server/db/ (client, types, migrate), drizzle/ (schema)
 *   shared leaves    server/contracts/, config.ts, log.ts, logger.ts, errors.ts, phone.ts, csv.ts, persona.ts, once.ts, sleep.ts
 * Type imports count (`tsPreCompilationDeps`): a type from above is a dependency on above.
 */
const layers = [
  { name: 'entry', path: '^server/(main|runtime|app)\\.ts$' },
  { name: 'http adapters', path: '^server/(trpc|http|webhook)/' },
  { name: 'services', path: '^server/services/' },
  { name: 'background (pipeline, campaigns)', path: '^server/(pipeline|campaigns)/' },
  { name: 'knowledge', path: '^server/knowledge/' },
  { name: 'conversation', path: '^server/conversation/' },
  { name: 'jobs and events', path: '^server/(jobs|events)/' },
  { name: 'integrations', path: '^server/integrations/' },
  { name: 'queries', path: '^server/db/queries/' },
  { name: 'database', path: '^(server/db/[^/]+$|drizzle/)' },
  {
    name: 'shared leaves',
    path: '^server/(contracts/|(config|log|logger|errors|phone|csv|persona|once|sleep)\\.ts$)',
  },
];

const layerRules = layers.slice(1).map((layer, i) => ({
  name: `layer: ${layer.name}`,
  comment: `${layer.name} may not import a layer above it (${layers
    .slice(0, i + 1)
    .map((l) => l.name)
    .join(', ')})`,
  severity: 'error',
  from: { path: layer.path },
  to: {
    path: layers
      .slice(0, i + 1)
      .map((l) => `(${l.path})`)
      .join('|'),
  },
}));

module.exports = {
  forbidden: [
    ...layerRules,
    {
      name: 'unlayered',
      comment:
        'every file under server/ belongs to a layer: add a new folder or file to .dependency-cruiser.cjs',
      severity: 'error',
      from: { path: '^server/', pathNot: layers.map((l) => `(${l.path})`).join('|') },
      to: {},
    },
    {
      name: 'contracts: zod only',
      comment:
        'server/contracts/ is re-exported by the sdk: it imports zod and other contracts, nothing else',
      severity: 'error',
      from: { path: '^server/contracts/' },
      to: { pathNot: '^(server/contracts/|node_modules/zod/)' },
    },
    {
      name: 'no-circular',
      comment: 'no file imports itself through others (type imports included)',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    {
      name: 'no-folder-cycles',
      comment: 'no folder imports itself through other folders',
      severity: 'error',
      scope: 'folder',
      from: {},
      to: { circular: true },
    },
    {
      name: 'not-to-unresolvable',
      severity: 'error',
      from: {},
      to: { couldNotResolve: true },
    },
  ],
  options: {
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '(^|/)(node_modules|dist)/' },
    combinedDependencies: false,
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
      mainFields: ['module', 'main', 'types', 'typings'],
    },
  },
};
