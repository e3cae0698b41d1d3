import type { TActor, TActorType } from '../contracts';
import type { Caller } from './caller';

/**
 * Who made a change, as recorded on messages, activities, deal moves, owner changes, tasks and notes:
 * a signed-in person (`staff`, id = staff id), an API key (`apiKey`, by its id and name), the server
 * itself (`system`: scripts, jobs, the automatic hand-back), the `bot`, or the `customer`.
 * `type` holds the kind; it is stored in the `actor_type` columns.
 */
export interface Actor extends TActor {
  type: TActorType;
  id: string;
  name: string;
}

/** The actor of a call: the signed-in person, the API key by name, or the server itself. */
export function actorOf(caller: Caller): Actor {
  if (caller.kind === 'staff') return { type: 'staff', id: caller.id, name: caller.name };
  if (caller.kind === 'apiKey') return { type: 'apiKey', id: caller.id, name: caller.name };
  return { type: 'system', id: 'system', name: 'system' };
}

/**
 * The bot, when its model tools change the CRM of the conversation's contact. It is no caller of the
 * API (no request carries it), so it has no `Caller`: the bot's own service records this actor.
 */
export const botActor: Actor = { type: 'bot', id: 'bot', name: 'bot' };
