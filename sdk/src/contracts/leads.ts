/** The contracts of the `leads` router (lead lists, scores and rescores). */
export * from '../../../server/contracts/leads';
