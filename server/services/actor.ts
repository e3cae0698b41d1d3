/** Who made a change, as recorded on activities and owner changes. */
export interface Actor {
  type: 'agent' | 'admin';
  id: string;
}

/** The actor of a call: the caller's role and id (the server's own scripts act as admin "system"). */
export const actorOf = (caller: { id: string; role: 'agent' | 'admin' }): Actor => ({
  type: caller.role,
  id: caller.id,
});
