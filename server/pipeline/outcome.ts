/** What storing one webhook item did. */
export type IngestOutcome =
  | { kind: 'stored'; conversationId: string; messageId: string }
  | { kind: 'duplicate' }
  | { kind: 'echo'; messageId: string }
  | { kind: 'agent'; conversationId: string; messageId: string }
  | { kind: 'status'; updated: boolean }
  | { kind: 'ignored'; reason: string }
  /** Could not be handled: kept in the dead letters (`deadLetterId` null when told not to keep it). */
  | { kind: 'dead-letter'; reason: string; deadLetterId: string | null };
