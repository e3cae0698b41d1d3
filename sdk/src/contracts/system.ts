/** The contracts of the `system` router (dead letters and other operator tools). */
export * from '../../../server/contracts/system';
