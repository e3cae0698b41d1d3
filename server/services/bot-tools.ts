import { z } from 'zod';
import type { TLeadStatus } from '../contracts';
import type { ReplyTools, ToolAction, ToolTarget, ToolVerdict } from '../conversation/deps';
import * as acts from '../db/queries/activities';
import * as cq from '../db/queries/contacts';
import { recordEvents } from '../db/queries/events';
import { STATUS_CHANGE_ACTIVITY } from '../db/queries/leads';
import * as tq from '../db/queries/tasks';
import type { Db, DbOrTx, Tx } from '../db/types';
import type { AiTool, AiToolCall } from '../integrations/ai';
import type { Logger } from '../logger';
import { botActor } from './actor';

/**
 * The model tools that keep the CRM of the conversation's contact: the bot's rules, in one place.
 *
 * - The tools take no contact id: they always act on the conversation's contact.
 * - The bot only fills fields that are empty: a name, email, company or position already on file
 *   (typed by a person, imported, or saved by the bot earlier) is kept.
 * - The lead status only moves forward along new → contacted → qualified → proposal; `customer` and
 *   `lost` are for people, and a contact already there (or further on) is left alone.
 * - Nothing is deleted, opt-out is not touched (STOP and START do that), deals are not moved.
 * - Every change is written with the bot as its actor and logged on the contact's timeline.
 */

/** The statuses the bot may set, in the order a lead moves through them. */
export const BOT_LEAD_STATUSES = ['contacted', 'qualified', 'proposal'] as const;
const STATUS_ORDER: Record<TLeadStatus, number> = {
  new: 0,
  contacted: 1,
  qualified: 2,
  proposal: 3,
  customer: 4,
  lost: 5,
};

// biome-ignore lint/suspicious/noControlCharactersInRegex: NUL is what is refused
const HOSTILE = /\u0000|\p{Cs}/u;
const clean = { error: 'must not contain NUL characters or unpaired surrogates' };
const text = (max: number) =>
  z
    .string()
    .trim()
    .min(1)
    .max(max)
    .refine((s) => !HOSTILE.test(s), clean);
/** How far ahead a follow-up may be due. */
const FOLLOW_UP_MAX_DAYS = 366;

export const ZSaveContactDetails = z
  .object({
    name: text(200).optional().describe("The customer's name, as they gave it"),
    email: z
      .email()
      .max(320)
      .refine((s) => !HOSTILE.test(s), clean)
      .optional()
      .describe("The customer's email address"),
    company: text(200).optional().describe('The company the customer works for'),
    position: text(200).optional().describe("The customer's job title"),
  })
  .strict()
  .refine((v) => Object.values(v).some((x) => x !== undefined), {
    error: 'give at least one of name, email, company, position',
  });

export const ZSetLeadStatus = z
  .object({
    status: z
      .enum(BOT_LEAD_STATUSES, {
        error: `the bot may set only ${BOT_LEAD_STATUSES.join(', ')} (customer and lost are set by staff)`,
      })
      .describe('contacted: talking; qualified: has a real need and means; proposal: asked for an offer'),
    reason: text(300).optional().describe('Why, in a few words'),
  })
  .strict();

export const ZCreateFollowUp = z
  .object({
    title: text(200).describe('What a person should do, e.g. "Call back about the quote"'),
    dueAt: z.iso
      .datetime({ offset: true, error: 'dueAt must be an ISO 8601 date-time with a time zone' })
      .describe('When it is due, ISO 8601 with a time zone, e.g. 2026-01-31T15:00:00+01:00'),
    priority: z.enum(['low', 'medium', 'high']).optional().describe('Default medium'),
    details: text(1000).optional().describe('What the person should know'),
  })
  .strict();

export const ZNoteInterest = z
  .object({
    interest: text(40).describe('The product or need, in a few words, e.g. "solar panels"'),
    details: text(500).optional().describe('What the customer said about it'),
  })
  .strict();

const TOOLS = {
  save_contact_details: {
    schema: ZSaveContactDetails,
    description:
      "Save the customer's name, email, company or position when they tell you. Only empty fields are filled.",
  },
  set_lead_status: {
    schema: ZSetLeadStatus,
    description: "Move this customer's lead status forward when the conversation shows it.",
  },
  create_follow_up: {
    schema: ZCreateFollowUp,
    description:
      'Create a task for a colleague to follow up with this customer at a given time (a call back, an offer).',
  },
  note_interest: {
    schema: ZNoteInterest,
    description: 'Note a product or need the customer is interested in; it is kept on their contact.',
  },
} as const;

export type BotToolName = keyof typeof TOOLS;
export const BOT_TOOL_NAMES = Object.keys(TOOLS) as BotToolName[];

const isToolName = (name: string): name is BotToolName => Object.hasOwn(TOOLS, name);

/** The JSON schema the model is given, derived from the zod schema (the one definition). */
export function toolParameters(name: BotToolName): Record<string, unknown> {
  const { $schema: _, ...schema } = z.toJSONSchema(TOOLS[name].schema, { io: 'input' }) as Record<
    string,
    unknown
  >;
  return schema;
}

const PARAMETERS = Object.fromEntries(BOT_TOOL_NAMES.map((n) => [n, toolParameters(n)])) as Record<
  BotToolName,
  Record<string, unknown>
>;

/** The tools as the model sees them; the follow-up's description tells the current time (UTC). */
export function botToolDefinitions(now: Date): AiTool[] {
  return BOT_TOOL_NAMES.map((name) => ({
    name,
    description:
      name === 'create_follow_up'
        ? `${TOOLS[name].description} Now it is ${now.toISOString()}.`
        : TOOLS[name].description,
    parameters: PARAMETERS[name],
  }));
}

/** The tag that keeps an interest on the contact: `interest:` and the interest, lower case. */
export const interestTag = (interest: string) =>
  `interest:${interest.toLowerCase().replace(/\s+/g, ' ')}`.slice(0, 50);

const DETAIL_FIELDS = ['name', 'email', 'company', 'position'] as const;
type DetailField = (typeof DETAIL_FIELDS)[number];
type ContactRow = NonNullable<Awaited<ReturnType<typeof cq.findContact>>>;
const isEmpty = (v: string | null) => v === null || v.trim() === '';

/** The given fields split into those the bot may fill (empty on file) and those it keeps. */
function fillable(contact: ContactRow, given: Partial<Record<DetailField, string>>) {
  const fill: Partial<Record<DetailField, string>> = {};
  const kept: DetailField[] = [];
  for (const f of DETAIL_FIELDS) {
    const value = given[f];
    if (value === undefined) continue;
    if (isEmpty(contact[f])) fill[f] = value;
    else kept.push(f);
  }
  return { fill, kept };
}

/** Why the bot may not move the status from `from` to `to`; null when it may. */
function statusRefusal(from: TLeadStatus, to: TLeadStatus): string | null {
  if (from === to) return `the lead status is already ${to}`;
  if (from === 'customer' || from === 'lost') return `the lead status is ${from}, set by staff; it stays`;
  if (STATUS_ORDER[to] < STATUS_ORDER[from])
    return `the lead status is ${from}; the bot only moves it forward`;
  return null;
}

function parseArgs(call: AiToolCall): { ok: true; value: unknown } | { ok: false; error: string } {
  try {
    return { ok: true, value: JSON.parse(call.arguments || '{}') };
  } catch {
    return { ok: false, error: 'the arguments are not valid JSON' };
  }
}

const issues = (err: z.ZodError) =>
  err.issues
    .map((i) => (i.path.length ? `${i.path.join('.')}: ${i.message}` : i.message))
    .join('; ')
    .slice(0, 500);

export function createBotToolsService(deps: { db: Db; log: Logger }): ReplyTools {
  const { db, log } = deps;

  async function check(call: AiToolCall, target: ToolTarget): Promise<ToolVerdict> {
    if (!isToolName(call.name)) return { ok: false, error: `there is no tool "${call.name.slice(0, 64)}"` };
    const raw = parseArgs(call);
    if (!raw.ok) return raw;
    const parsed = TOOLS[call.name].schema.safeParse(raw.value);
    if (!parsed.success) return { ok: false, error: issues(parsed.error) };
    const action: ToolAction = { name: call.name, args: parsed.data };
    const contact = await cq.findContact(db, target.contactId);
    if (!contact) return { ok: false, error: 'the contact no longer exists' };
    switch (call.name) {
      case 'save_contact_details': {
        const { fill, kept } = fillable(contact, parsed.data as z.infer<typeof ZSaveContactDetails>);
        const filling = Object.keys(fill);
        if (!filling.length) return { ok: false, error: `already on file, kept: ${kept.join(', ')}` };
        return {
          ok: true,
          action,
          result: `will save ${filling.join(', ')} with your reply${kept.length ? `; already on file, kept: ${kept.join(', ')}` : ''}`,
        };
      }
      case 'set_lead_status': {
        const { status } = parsed.data as z.infer<typeof ZSetLeadStatus>;
        const refusal = statusRefusal(contact.leadStatus, status);
        if (refusal) return { ok: false, error: refusal };
        return { ok: true, action, result: `will set the lead status to ${status} with your reply` };
      }
      case 'create_follow_up': {
        const { dueAt } = parsed.data as z.infer<typeof ZCreateFollowUp>;
        const due = new Date(dueAt).getTime();
        const now = Date.now();
        if (due <= now)
          return { ok: false, error: `dueAt is in the past (now it is ${new Date(now).toISOString()})` };
        if (due > now + FOLLOW_UP_MAX_DAYS * 86_400_000) {
          return { ok: false, error: `dueAt is more than ${FOLLOW_UP_MAX_DAYS} days ahead` };
        }
        return { ok: true, action, result: 'will create the follow-up task with your reply' };
      }
      case 'note_interest':
        return { ok: true, action, result: 'will note the interest with your reply' };
    }
  }

  /** One action, its rules checked again on the locked contact row; false when it changed nothing. */
  async function applyOne(tx: DbOrTx, target: ToolTarget, action: ToolAction): Promise<boolean> {
    const { contactId, conversationId } = target;
    if (!isToolName(action.name)) return false;
    const args = TOOLS[action.name].schema.parse(action.args);
    if (!(await cq.lockContactStatus(tx, contactId))) return false;
    const contact = await cq.findContact(tx, contactId);
    if (!contact) return false;
    const actor = { actorType: botActor.type, actorId: botActor.id, actorName: botActor.name };
    switch (action.name) {
      case 'save_contact_details': {
        const { fill, kept } = fillable(contact, args as z.infer<typeof ZSaveContactDetails>);
        const fields = Object.keys(fill) as DetailField[];
        if (!fields.length) return false;
        await cq.updateContact(tx, contactId, fill);
        await recordEvents(tx, [{ type: 'contact.updated', contactId, fields }]);
        await acts.insertActivity(tx, {
          contactId,
          type: 'contact_details_saved',
          summary: `Saved by the bot: ${fields.map((f) => `${f} "${fill[f]}"`).join(', ')}`.slice(0, 500),
          metadata: { fields, kept, conversationId },
          ...actor,
        });
        return true;
      }
      case 'set_lead_status': {
        const { status, reason } = args as z.infer<typeof ZSetLeadStatus>;
        if (statusRefusal(contact.leadStatus, status)) return false;
        await cq.updateContact(tx, contactId, { leadStatus: status });
        await recordEvents(tx, [{ type: 'contact.updated', contactId, fields: ['leadStatus'] }]);
        await acts.insertActivity(tx, {
          contactId,
          type: STATUS_CHANGE_ACTIVITY,
          summary:
            `Lead status changed from ${contact.leadStatus} to ${status}${reason ? ` (${reason})` : ''}`.slice(
              0,
              500,
            ),
          metadata: { from: contact.leadStatus, to: status, conversationId },
          ...actor,
        });
        return true;
      }
      case 'create_follow_up': {
        const a = args as z.infer<typeof ZCreateFollowUp>;
        const task = await tq.insertTask(tx, {
          title: a.title,
          description: a.details ?? null,
          type: 'follow_up',
          priority: a.priority ?? 'medium',
          dueAt: new Date(a.dueAt),
          contactId,
          dealId: null,
          conversationId,
          createdBy: botActor.id,
          createdByActor: { type: botActor.type, id: botActor.id, name: botActor.name },
        });
        await recordEvents(tx, [
          { type: 'task.created', taskId: task.id, contactId, dealId: null, conversationId },
        ]);
        await acts.insertActivity(tx, {
          contactId,
          type: 'follow_up_created',
          summary: `Follow-up for a colleague: ${a.title}`.slice(0, 500),
          metadata: { taskId: task.id, dueAt: a.dueAt, conversationId },
          ...actor,
        });
        return true;
      }
      case 'note_interest': {
        const a = args as z.infer<typeof ZNoteInterest>;
        const tag = interestTag(a.interest);
        const changed = await cq.addTags(tx, [contactId], [tag]);
        if (changed.length) {
          await recordEvents(tx, [{ type: 'contact.updated', contactId, fields: ['tags'] }]);
        }
        await acts.insertActivity(tx, {
          contactId,
          type: 'interest_noted',
          summary: `Interested in ${a.interest}${a.details ? `: ${a.details}` : ''}`.slice(0, 500),
          metadata: { interest: a.interest, tag, conversationId },
          ...actor,
        });
        return true;
      }
    }
  }

  return {
    definitions: botToolDefinitions,
    check,
    async apply(tx: Tx, target, actions) {
      for (const action of actions) {
        try {
          // A savepoint each: one action failing leaves the others and the reply standing.
          const changed = await tx.transaction((sp) => applyOne(sp, target, action));
          if (!changed) {
            log.info(
              { conversationId: target.conversationId, tool: action.name },
              'bot tool call changed nothing (the contact changed meanwhile)',
            );
          }
        } catch (err) {
          log.warn({ conversationId: target.conversationId, tool: action.name, err }, 'bot tool call failed');
        }
      }
    },
  };
}
