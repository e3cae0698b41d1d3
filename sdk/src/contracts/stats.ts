/** The contracts of the `stats` router (dashboard figures and the system status). */
export * from '../../../server/contracts/stats';
