/** The shared primitives (ids, pages, tags, periods, money) the other contracts are built from. */
export * from '../../../server/contracts/common';
