import type { Db } from '../../db/types';
import type { RescoreScheduler } from '../lead-qualification';
import { type ActivitiesService, createActivitiesService } from './activities';
import { type ContactsService, createContactsService } from './contacts';
import { createDealsService, type DealsService } from './deals';
import { createImportService, type ImportService } from './import';
import { createTasksService, type TasksService } from './tasks';

/** The CRM: contacts (with their import), deals, tasks and activities. */
export interface CrmService {
  contacts: ContactsService;
  import: ImportService;
  deals: DealsService;
  tasks: TasksService;
  activities: ActivitiesService;
}

export function createCrmService(deps: {
  db: Db;
  defaultRegion: string;
  /** Schedules the stored lead score's update when what it depends on changes. */
  rescore?: RescoreScheduler;
}): CrmService {
  return {
    contacts: createContactsService(deps),
    import: createImportService(deps),
    deals: createDealsService(deps),
    tasks: createTasksService(deps),
    activities: createActivitiesService(deps),
  };
}
