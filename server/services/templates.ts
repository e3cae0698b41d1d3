import type { TMessageTemplateList, TTemplatesSyncResult, TTemplateUse } from '../contracts';
import type { PipelineDeps } from '../conversation/deps';
import * as tq from '../db/queries/templates';
import type { DbOrTx } from '../db/types';
import { AppError, badRequest } from '../errors';
import { isGatewayError } from '../integrations/gateway';
import type { CloudTemplate } from '../integrations/whatsapp-cloud';

/**
 * The WhatsApp Cloud API's message templates: synced from the business account (admins), listed for
 * everyone composing campaigns. Only APPROVED templates may be sent outside the 24-hour window.
 */
export interface TemplatesService {
  /** Pulls every template of the business account (WHATSAPP_CLOUD_WABA_ID) and stores it. */
  sync(): Promise<TTemplatesSyncResult>;
  list(): Promise<TMessageTemplateList>;
}

type TemplateLister = { listTemplates(): Promise<CloudTemplate[]> };

function listerOf(gateway: PipelineDeps['gateway']): TemplateLister | null {
  const g = gateway as Partial<TemplateLister>;
  return typeof g.listTemplates === 'function' ? (g as TemplateLister) : null;
}

export function createTemplatesService(deps: { pipeline: PipelineDeps }): TemplatesService {
  const { db, gateway } = deps.pipeline;
  return {
    async sync() {
      const lister = listerOf(gateway);
      if (!lister) {
        throw new AppError(
          'PRECONDITION_FAILED',
          `The ${gateway.name} gateway has no message templates: templates need GATEWAY=whatsapp-cloud`,
        );
      }
      let listed: CloudTemplate[];
      try {
        listed = await lister.listTemplates();
      } catch (err) {
        if (isGatewayError(err))
          throw new AppError('PRECONDITION_FAILED', `Could not list templates: ${err.message}`);
        throw err;
      }
      const { removed } = await db.transaction((tx) => tq.replaceTemplates(tx, listed));
      return { synced: listed.length, removed };
    },
    async list() {
      return { items: await tq.listTemplates(db) };
    },
  };
}

/**
 * Checks that a template may be used for sends: synced, APPROVED, and given as many values as its
 * body has variables. Throws a 4xx naming the problem.
 */
export async function requireApprovedTemplate(db: DbOrTx, use: TTemplateUse, field: string) {
  const t = await tq.findTemplate(db, use.name, use.language);
  if (!t) {
    throw badRequest(
      `${field}: template ${use.name} (${use.language}) is not known; run templates.sync first`,
      {
        [field]: ['unknown template'],
      },
    );
  }
  if (t.status !== 'APPROVED') {
    throw badRequest(`${field}: template ${use.name} (${use.language}) is ${t.status}, not APPROVED`, {
      [field]: ['template not approved'],
    });
  }
  if (use.variables.length !== t.bodyVariables) {
    throw badRequest(
      `${field}: template ${use.name} has ${t.bodyVariables} body variable(s), ${use.variables.length} value(s) given`,
      { [field]: ['wrong number of variables'] },
    );
  }
  return t;
}
