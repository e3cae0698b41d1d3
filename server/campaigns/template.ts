/**
 * Campaign message templates: `{{name}}`, `{{ company }}`, `{{first_name|there}}` (a default after `|`).
 * Variable names match ignoring case, underscores and dashes, so `{{First_Name}}` is `firstname`.
 */

import type { ContactFields } from '../db/queries/campaign-recipients';

const VARIABLE = /\{\{\s*([A-Za-z][A-Za-z0-9_-]{0,49})\s*(?:\|([^}]*))?\}\}/g;

/** The form names are compared in. */
export const variableKey = (name: string) => name.toLowerCase().replace(/[^a-z0-9]/g, '');

export type { ContactFields };

const firstWord = (s: string | null) => s?.trim().split(/\s+/)[0] ?? null;
const afterFirstWord = (s: string | null) => {
  const rest = s?.trim().split(/\s+/).slice(1).join(' ');
  return rest ? rest : null;
};
const displayName = (c: ContactFields) => c.name?.trim() || c.pushName?.trim() || null;

const CONTACT_VARIABLES: Record<string, (c: ContactFields) => string | null> = {
  name: displayName,
  fullname: displayName,
  firstname: (c) => firstWord(displayName(c)),
  lastname: (c) => afterFirstWord(c.name),
  pushname: (c) => c.pushName,
  whatsappname: (c) => c.pushName,
  phone: (c) => c.phone,
  email: (c) => c.email,
  company: (c) => c.company,
  position: (c) => c.position,
  title: (c) => c.position,
  leadstatus: (c) => c.leadStatus,
  source: (c) => c.source,
  tags: (c) => (c.tags.length ? c.tags.join(', ') : null),
};

export const CONTACT_VARIABLE_KEYS = Object.keys(CONTACT_VARIABLES);

export interface TemplateVariable {
  key: string;
  /** As written in the template. */
  written: string;
  inlineDefault: string | null;
}

/** The variables a template uses, in order of first use. */
export function templateVariables(template: string): TemplateVariable[] {
  const seen = new Map<string, TemplateVariable>();
  for (const m of template.matchAll(VARIABLE)) {
    const key = variableKey(m[1]!);
    if (!seen.has(key)) seen.set(key, { key, written: m[1]!, inlineDefault: m[2]?.trim() ?? null });
  }
  return [...seen.values()];
}

/** Variables the template uses that nothing can fill: not a contact field, default or CSV column. */
export function unknownVariables(template: string, known: Iterable<string>): string[] {
  const ok = new Set([...CONTACT_VARIABLE_KEYS, ...[...known].map(variableKey)]);
  return templateVariables(template)
    .filter((v) => !ok.has(v.key) && v.inlineDefault === null)
    .map((v) => v.written);
}

export interface RenderInput {
  contact: ContactFields;
  /** The recipient's own values (CSV columns), by normalised key; they win over the contact's fields. */
  variables: Record<string, string>;
  /** The campaign's defaults, by normalised key. */
  defaults: Record<string, string>;
}

export interface Rendered {
  text: string;
  /** Keys filled from a default (or left empty) because the recipient had no value. */
  defaulted: string[];
}

/** Fills the template for one recipient: own value, else contact field, else inline default, else campaign default. */
export function render(template: string, input: RenderInput): Rendered {
  const defaulted = new Set<string>();
  const text = template.replace(VARIABLE, (_all, name: string, inline: string | undefined) => {
    const key = variableKey(name);
    const own = input.variables[key]?.trim();
    if (own) return own;
    const field = CONTACT_VARIABLES[key]?.(input.contact)?.trim();
    if (field) return field;
    defaulted.add(key);
    return inline?.trim() || input.defaults[key] || EMPTY;
  });
  return { text: closeGaps(text).trim(), defaulted: [...defaulted] };
}

const EMPTY = '\uE000';

/** Removes what an empty variable leaves: "Hi {{name}}, welcome" reads "Hi, welcome", not "Hi , welcome". */
function closeGaps(text: string): string {
  return text.replace(/[ \t]*(?:\uE000[ \t]*)+/g, (gap, offset: number, all: string) => {
    const before = all[offset - 1];
    const after = all[offset + gap.length];
    const joinsWords = before !== undefined && before !== '\n' && after !== undefined && after !== '\n';
    return joinsWords && !/[,.!?;:)]/.test(after) ? ' ' : '';
  });
}

export function normaliseDefaults(defaults: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(defaults).map(([k, v]) => [variableKey(k), v]));
}

/** Double braces that do not form a variable (`{{ first name }}`, `{{}}`, a lone `}}`), as written. */
export function strayBraces(template: string): string[] {
  const rest = template.replace(VARIABLE, ' ');
  return [...rest.matchAll(/\{\{[^{}]{0,60}\}?\}?|\}\}/g)].map((m) => m[0]);
}
