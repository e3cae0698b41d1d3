import type { TRole } from '../contracts';

/** Who is calling: an API key's holder, or the server itself (scripts, jobs). */
export interface KeyCaller {
  kind: 'apiKey' | 'system';
  /** The key's id ('system' for the server itself). */
  id: string;
  /** The key's name. */
  name: string;
  role: TRole;
}

/** A signed-in person: `id` is the staff id, `name` the display name, `role` from the staff table. */
export interface StaffCaller {
  kind: 'staff';
  id: string;
  name: string;
  role: TRole;
  email: string;
}

export type Caller = KeyCaller | StaffCaller;

export const systemCaller: KeyCaller = { kind: 'system', id: 'system', name: 'system', role: 'admin' };
