import { ZSystemStatus } from '../../contracts';
import { router } from '../init';
import { authedProcedure } from '../procedures';

export const statsRouter = router({
  /** Health of the database, the job queue and every integration, for the dashboard's status page. */
  systemStatus: authedProcedure.output(ZSystemStatus).query(({ ctx }) => ctx.services.system.status()),
});
