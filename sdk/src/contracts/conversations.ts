/** The contracts of the `conversations` router (the inbox, messages, sending, ownership and the events stream). */
export * from '../../../server/contracts/conversations';
export * from '../../../server/contracts/events';
export * from '../../../server/contracts/messaging';
