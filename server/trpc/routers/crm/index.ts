import { router } from '../../init';
import { activitiesRouter } from './activities';
import { contactsRouter } from './contacts';
import { dealsRouter } from './deals';
import { tasksRouter } from './tasks';

/** The CRM. Agents and admins read and write; deleting is for admins. */
export const crmRouter = router({
  contacts: contactsRouter,
  deals: dealsRouter,
  tasks: tasksRouter,
  activities: activitiesRouter,
});
