import type { inferRouterInputs, inferRouterOutputs } from '@trpc/server';
import { createCallerFactory, router } from './init';
import { botRouter } from './routers/bot';
import { campaignsRouter } from './routers/campaigns';
import { cannedResponsesRouter } from './routers/canned-responses';
import { conversationsRouter } from './routers/conversations';
import { crmRouter } from './routers/crm';
import { groupsRouter } from './routers/groups';
import { keysRouter } from './routers/keys';
import { knowledgeRouter } from './routers/knowledge';
import { leadsRouter } from './routers/leads';
import { staffRouter } from './routers/staff';
import { statsRouter } from './routers/stats';
import { systemRouter } from './routers/system';
import { templatesRouter } from './routers/templates';
import { webhooksRouter } from './routers/webhooks';

export const appRouter = router({
  conversations: conversationsRouter,
  crm: crmRouter,
  leads: leadsRouter,
  bot: botRouter,
  campaigns: campaignsRouter,
  stats: statsRouter,
  keys: keysRouter,
  system: systemRouter,
  webhooks: webhooksRouter,
  staff: staffRouter,
  knowledge: knowledgeRouter,
  cannedResponses: cannedResponsesRouter,
  groups: groupsRouter,
  templates: templatesRouter,
});

export type AppRouter = typeof appRouter;
export type RouterInputs = inferRouterInputs<AppRouter>;
export type RouterOutputs = inferRouterOutputs<AppRouter>;

/** In-process calls (scripts, jobs, tests) through the same procedures and rules as HTTP. */
export const createCaller = createCallerFactory(appRouter);
