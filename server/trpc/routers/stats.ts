import { ZAgentStats, ZAgentStatsInput, ZDashboard, ZDashboardInput, ZSystemStatus } from '../../contracts';
import { router } from '../init';
import { adminProcedure, authedProcedure } from '../procedures';

export const statsRouter = router({
  /** Headline figures for the dashboard's home page, in one database round trip. */
  dashboard: authedProcedure
    .meta({ openapi: { method: 'GET', path: '/stats/dashboard' } })
    .input(ZDashboardInput)
    .output(ZDashboard)
    .query(({ ctx, input }) => ctx.services.stats.dashboard(input)),
  /** Per staff member over a period (admins): conversations handled, response and resolution times, load. */
  agents: adminProcedure
    .meta({ openapi: { method: 'GET', path: '/stats/agents' } })
    .input(ZAgentStatsInput)
    .output(ZAgentStats)
    .query(({ ctx, input }) => ctx.services.stats.agents(input)),
  /** Health of the database, the job queue and every integration, for the dashboard's status page. */
  systemStatus: authedProcedure
    .meta({ openapi: { method: 'GET', path: '/stats/system' } })
    .output(ZSystemStatus)
    .query(({ ctx }) => ctx.services.system.status()),
});
