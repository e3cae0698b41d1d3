/** The contracts of the `crm` router (contacts, deals, tasks and activities). */

export * from '../../../server/contracts/activities';
export * from '../../../server/contracts/crm';
export * from '../../../server/contracts/deals';
export * from '../../../server/contracts/tasks';
