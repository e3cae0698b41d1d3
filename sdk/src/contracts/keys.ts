/** The contracts of the `keys` router (API keys). */
export * from '../../../server/contracts/keys';
