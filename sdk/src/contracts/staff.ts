/** The contracts of the `staff` router (people, sign-in, stream tickets). */
export * from '../../../server/contracts/staff';
