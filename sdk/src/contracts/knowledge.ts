/** The contracts of the `knowledge` router (knowledge base documents, passages and searches). */
export * from '../../../server/contracts/knowledge';
