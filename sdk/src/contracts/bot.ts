/** The contracts of the `bot` router (bot status, switching it on and off, its settings). */
export * from '../../../server/contracts/bot';
export * from '../../../server/contracts/settings';
