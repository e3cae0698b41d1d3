/** The contracts of the `leads` router (lead lists, scores, rescores and the model's assessments). */
export * from '../../../server/contracts/leads';
export * from '../../../server/contracts/qualification';
