import { type CsvColumn, headerColumns, readCsvRecords } from '../csv';
import { badRequest } from '../errors';
import { toE164 } from '../phone';
import { variableKey } from './template';

/**
 * A pasted list of phone numbers or a CSV file, read into recipients. A first line that names a phone
 * column (phone, mobile, whatsapp, number, ...) is a header: its other columns fill contact fields of new
 * contacts (name, email, company, position) and become template variables for that row. Without a
 * header, the first column is the number and a second one, when present, the name.
 */

export interface NumberRow {
  line: number;
  phone: string;
  /** Fields for a contact created from this row. */
  contact: { name: string | null; email: string | null; company: string | null; position: string | null };
  /** Every column but the phone, by normalised header name. */
  variables: Record<string, string>;
}

export interface Problem {
  line: number | null;
  value: string;
  reason: string;
}

export interface ParsedNumbers {
  rows: NumberRow[];
  invalid: Problem[];
  duplicates: Problem[];
  /** Normalised column names (phone first when there is no header). */
  columns: string[];
  /** Data lines read (header excluded). */
  lines: number;
}

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

const readRecords = (text: string) =>
  readCsvRecords(text, {
    field: 'audience.numbers',
    what: 'a list or CSV',
    skipRecordsWithEmptyValues: true,
  });

const limit = (v: string | undefined, max: number) => (v ? v.slice(0, max) : null);

export function parseNumbers(text: string, defaultRegion: string, maxRows: number): ParsedNumbers {
  const records = readRecords(text);
  const first = records[0]?.record ?? [];
  const header = headerColumns(first, 'audience.numbers');
  const hasHeader = header !== null;
  const columns = hasHeader ? first.map(variableKey) : ['phone', 'name'];
  const fieldAt = header ?? ['phone', 'name'];
  const phoneAt = fieldAt.indexOf('phone');
  const data = hasHeader ? records.slice(1) : records;
  if (data.length > maxRows) {
    throw badRequest(
      `audience.numbers: has ${data.length} lines; at most ${maxRows} recipients are allowed`,
      {
        'audience.numbers': [`at most ${maxRows} lines`],
      },
    );
  }

  const rows: NumberRow[] = [];
  const invalid: Problem[] = [];
  const duplicates: Problem[] = [];
  const firstLine = new Map<string, number>();
  for (const { record, line } of data) {
    const raw = record[phoneAt]?.trim() ?? '';
    if (!raw) {
      invalid.push({ line, value: record.join(', ').slice(0, 200), reason: 'no phone number on this line' });
      continue;
    }
    const phone = toE164(raw, defaultRegion);
    if (!phone) {
      invalid.push({
        line,
        value: raw.slice(0, 200),
        reason: `not a valid phone number (region ${defaultRegion})`,
      });
      continue;
    }
    const seen = firstLine.get(phone);
    if (seen !== undefined) {
      duplicates.push({ line, value: phone, reason: `same number as line ${seen}` });
      continue;
    }
    firstLine.set(phone, line);
    const variables: Record<string, string> = {};
    const fields: Partial<Record<CsvColumn, string>> = {};
    columns.forEach((key, i) => {
      const cell = record[i]?.trim();
      if (i === phoneAt || !cell || !key) return;
      variables[key] ??= cell.slice(0, 500);
      const field = fieldAt[i];
      if (field) fields[field] ??= cell;
    });
    const name = fields.name ?? ([fields.firstName, fields.lastName].filter(Boolean).join(' ') || undefined);
    rows.push({
      line,
      phone,
      contact: {
        name: limit(name, 200),
        email: fields.email && EMAIL.test(fields.email) ? limit(fields.email, 320) : null,
        company: limit(fields.company, 200),
        position: limit(fields.position, 200),
      },
      variables,
    });
  }
  return { rows, invalid, duplicates, columns, lines: data.length };
}
