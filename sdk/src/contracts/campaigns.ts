/** The contracts of the `campaigns` router. */
export * from '../../../server/contracts/campaigns';
