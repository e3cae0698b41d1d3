import {
  CANNED_VARIABLES,
  type TCannedResponse,
  type TCannedResponseCreateInput,
  type TCannedResponseUpdateInput,
} from '../contracts';
import * as q from '../db/queries/inbox';
import type { Db } from '../db/types';
import { badRequest, conflict, notFound } from '../errors';

/** Saved replies (admins write, agents read), expanded by conversations.sendMessage. */
export interface CannedResponsesService {
  list(): Promise<{ items: TCannedResponse[] }>;
  create(input: TCannedResponseCreateInput): Promise<TCannedResponse>;
  update(input: TCannedResponseUpdateInput): Promise<TCannedResponse>;
  delete(input: { id: string }): Promise<{ ok: true }>;
}

const VARIABLE = /\{\{\s*([^{}]*?)\s*\}\}/g;

/** The variables a text uses that are not known; a canned response may only use known ones. */
export function unknownVariables(text: string): string[] {
  const known = new Set<string>(CANNED_VARIABLES);
  return [...new Set([...text.matchAll(VARIABLE)].map((m) => m[1]!))].filter((v) => !known.has(v));
}

export interface CannedValues {
  name: string | null;
  first_name: string | null;
  agent_name: string | null;
  business_name: string | null;
}

/**
 * Fills `{{variable}}` placeholders. An unknown variable, or a known one with no value (a contact with
 * no name, no business name configured), is a BAD_REQUEST naming it: the message is not sent half-filled.
 */
export function expandVariables(text: string, values: CannedValues): string {
  const unknown = unknownVariables(text);
  if (unknown.length)
    throw badRequest(`Unknown variable ${unknown.map((v) => `{{${v}}}`).join(', ')}`, {
      text: [`unknown variables: ${unknown.join(', ')}; known: ${CANNED_VARIABLES.join(', ')}`],
    });
  return text.replace(VARIABLE, (_, name: keyof CannedValues) => {
    const value = values[name];
    if (!value)
      throw badRequest(`{{${name}}} has no value for this conversation; write the message yourself`, {
        text: [`{{${name}}} has no value`],
      });
    return value;
  });
}

export function createCannedResponsesService(deps: { db: Db }): CannedResponsesService {
  const { db } = deps;
  const checkText = (text: string | undefined) => {
    const unknown = text ? unknownVariables(text) : [];
    if (unknown.length)
      throw badRequest(`text: unknown variable ${unknown.map((v) => `{{${v}}}`).join(', ')}`, {
        text: [`unknown variables: ${unknown.join(', ')}; known: ${CANNED_VARIABLES.join(', ')}`],
      });
  };
  return {
    async list() {
      return { items: await q.listCanned(db) };
    },
    async create(input) {
      checkText(input.text);
      const row = await q.insertCanned(db, input);
      if (!row) throw conflict(`A canned response with the code "${input.code}" exists`);
      return row;
    },
    async update(input) {
      checkText(input.text);
      const row = await q.updateCanned(db, input.id, { code: input.code, text: input.text });
      if (row === 'taken') throw conflict(`A canned response with the code "${input.code}" exists`);
      if (!row) throw notFound('Canned response', input.id);
      return row;
    },
    async delete(input) {
      if (!(await q.deleteCanned(db, input.id))) throw notFound('Canned response', input.id);
      return { ok: true };
    },
  };
}
