/** The contracts of the `webhooks` router (outbound webhook subscriptions, deliveries, replays). */
export * from '../../../server/contracts/webhooks';
