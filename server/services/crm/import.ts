import { z } from 'zod';
import type { TContactImportInput, TImportPreview, TImportResult, TImportRow } from '../../contracts';
import { LEAD_STATUS_VALUES, type TLeadStatus } from '../../contracts';
import { type CsvColumn, headerColumns, readCsvRecords } from '../../csv';
import * as q from '../../db/queries/contacts';
import { recordEvents } from '../../db/queries/events';
import type { Db } from '../../db/types';
import { badRequest } from '../../errors';
import { toE164 } from '../../phone';

export interface ImportService {
  /** Reads the rows and says what a commit would do with each; writes nothing. */
  preview(input: TContactImportInput): Promise<TImportPreview>;
  /** Creates the valid rows' contacts. Running it again with the same text creates nothing new. */
  commit(input: TContactImportInput): Promise<TImportResult>;
}

export const IMPORT_MAX_ROWS = 10_000;
const PREVIEW_ROWS = 1000;

type Field = CsvColumn;

const LIMITS: Partial<Record<Field, number>> = {
  name: 200,
  company: 200,
  position: 200,
  source: 50,
  notes: 10_000,
};
const ZEmail = z.email().max(320);

interface ParsedRow {
  line: number;
  status: 'valid' | 'invalid' | 'duplicate' | 'existing';
  reason: string | null;
  phone: string | null;
  name: string | null;
  existingContactId: string | null;
  contact: q.ContactInsert | null;
}

const readRecords = (text: string) => readCsvRecords(text, { field: 'text', what: 'CSV' });

/** Maps each column to a field: from the header row when there is one, else phone, name, email. */
function columnsOf(records: { record: string[] }[]): { fields: (Field | null)[]; hasHeader: boolean } {
  const header = headerColumns(records[0]?.record ?? [], 'text');
  return header
    ? { fields: header, hasHeader: true }
    : { fields: ['phone', 'name', 'email'], hasHeader: false };
}

function parseRows(input: TContactImportInput, defaultRegion: string) {
  const records = readRecords(input.text);
  const { fields, hasHeader } = columnsOf(records);
  const data = hasHeader ? records.slice(1) : records;
  if (data.length > IMPORT_MAX_ROWS) {
    throw badRequest(`text: has ${data.length} rows; at most ${IMPORT_MAX_ROWS} can be imported at once`, {
      text: [`at most ${IMPORT_MAX_ROWS} rows`],
    });
  }
  const firstLine = new Map<string, number>();
  const rows: ParsedRow[] = data.map(({ record, line }) => {
    const v: Partial<Record<Field, string>> = {};
    fields.forEach((f, i) => {
      const cell = record[i]?.trim();
      if (f && cell && v[f] === undefined) v[f] = cell;
    });
    const name = v.name ?? ([v.firstName, v.lastName].filter(Boolean).join(' ') || null);
    const invalid = (reason: string): ParsedRow => ({
      line,
      status: 'invalid',
      reason,
      phone: v.phone ?? null,
      name,
      existingContactId: null,
      contact: null,
    });
    if (!v.phone) return invalid('phone is missing');
    const phone = toE164(v.phone, defaultRegion);
    if (!phone) return invalid(`phone "${v.phone}" is not a valid phone number`);
    if (name && name.length > 200) return invalid('name is longer than 200 characters');
    for (const [f, max] of Object.entries(LIMITS) as [Field, number][]) {
      const value = f === 'name' ? name : v[f];
      if (value && value.length > max) return invalid(`${f} is longer than ${max} characters`);
    }
    if (v.email && !ZEmail.safeParse(v.email).success)
      return invalid(`email "${v.email}" is not an email address`);
    const status = v.leadStatus?.toLowerCase();
    if (status && !(LEAD_STATUS_VALUES as readonly string[]).includes(status)) {
      return invalid(`lead status "${v.leadStatus}" is not one of ${LEAD_STATUS_VALUES.join(', ')}`);
    }
    const tags = [
      ...new Set([...(v.tags?.split(/[;|]/) ?? []).map((t) => t.trim()).filter(Boolean), ...input.tags]),
    ];
    if (tags.some((t) => t.length > 50)) return invalid('a tag is longer than 50 characters');
    if (tags.length > 50) return invalid('more than 50 tags');
    const seen = firstLine.get(phone);
    if (seen !== undefined) {
      return {
        line,
        status: 'duplicate',
        reason: `same phone as line ${seen}`,
        phone,
        name,
        existingContactId: null,
        contact: null,
      };
    }
    firstLine.set(phone, line);
    return {
      line,
      status: 'valid',
      reason: null,
      phone,
      name,
      existingContactId: null,
      contact: {
        phone,
        name,
        email: v.email ?? null,
        company: v.company ?? null,
        position: v.position ?? null,
        leadStatus: (status as TLeadStatus | undefined) ?? 'new',
        source: v.source ?? input.source,
        tags,
        notes: v.notes ?? null,
      },
    };
  });
  return {
    rows,
    columns: hasHeader
      ? fields.map((f, i) => f ?? `(ignored: ${records[0]!.record[i]})`)
      : fields.map(String),
  };
}

export function createImportService(deps: { db: Db; defaultRegion: string }): ImportService {
  const { db, defaultRegion } = deps;

  /** Parses the text and marks valid rows whose phone already belongs to a contact. */
  async function classify(input: TContactImportInput) {
    const parsed = parseRows(input, defaultRegion);
    const valid = parsed.rows.filter((r) => r.status === 'valid');
    const existing = new Map(
      (
        await q.findContactsByPhones(
          db,
          valid.map((r) => r.phone!),
        )
      ).map((c) => [c.phone, c]),
    );
    for (const r of valid) {
      const found = existing.get(r.phone!);
      if (!found) continue;
      r.status = 'existing';
      r.reason = found.deleted
        ? 'a deleted contact has this phone'
        : 'a contact with this phone already exists';
      r.existingContactId = found.id;
      r.contact = null;
    }
    return parsed;
  }

  const count = (rows: ParsedRow[], status: ParsedRow['status']) =>
    rows.filter((r) => r.status === status).length;

  return {
    async preview(input) {
      const { rows, columns } = await classify(input);
      return {
        totals: {
          rows: rows.length,
          valid: count(rows, 'valid'),
          invalid: count(rows, 'invalid'),
          duplicate: count(rows, 'duplicate'),
          existing: count(rows, 'existing'),
        },
        rows: rows.slice(0, PREVIEW_ROWS).map(
          (r): TImportRow => ({
            line: r.line,
            status: r.status,
            phone: r.phone,
            name: r.name,
            reason: r.reason,
            existingContactId: r.existingContactId,
          }),
        ),
        columns,
      };
    },

    async commit(input) {
      const { rows } = await classify(input);
      const toCreate = rows.flatMap((r) => (r.status === 'valid' && r.contact ? [r.contact] : []));
      return db.transaction(async (tx) => {
        let created = 0;
        for (let i = 0; i < toCreate.length; i += 500) {
          created += (await q.insertContacts(tx, toCreate.slice(i, i + 500))).length;
        }
        const result = {
          created,
          skippedExisting: toCreate.length - created,
          existing: count(rows, 'existing'),
          duplicate: count(rows, 'duplicate'),
          invalid: count(rows, 'invalid'),
        };
        // One event per run that created contacts (an import of thousands of rows would otherwise
        // flood subscribers); a run that created nothing changed nothing and says nothing.
        if (created) await recordEvents(tx, [{ type: 'contact.imported', ...result }]);
        return result;
      });
    },
  };
}
