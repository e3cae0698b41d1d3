/** The contracts of the `groups` router (WhatsApp groups, group sends, members' messages, gateway syncs). */
export * from '../../../server/contracts/groups';
