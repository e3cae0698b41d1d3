/**
 * The contracts of the `conversations` router (the inbox, messages, sending, ownership, assignment,
 * status, notes and labels, and the events stream) and of `cannedResponses`.
 */
export * from '../../../server/contracts/conversations';
export * from '../../../server/contracts/events';
export * from '../../../server/contracts/inbox';
export * from '../../../server/contracts/messaging';
