import { parse } from 'csv-parse/sync';
import { badRequest } from './errors';

/** The delimiter of the first line: the most frequent of comma, semicolon and tab outside quotes. */
function detectDelimiter(text: string): string {
  const first = text.split(/\r?\n/, 1)[0]!.replace(/"[^"]*"/g, '');
  const counts = [',', ';', '\t'].map((d) => [d, first.split(d).length - 1] as const);
  counts.sort((a, b) => b[1] - a[1]);
  return counts[0]![1] > 0 ? counts[0]![0] : ',';
}

/**
 * Pasted text or a CSV file as records with their line numbers, lenient about delimiters, quotes and
 * ragged rows. Unreadable input is a BAD_REQUEST on `field`.
 */
export function readCsvRecords(
  text: string,
  opts: { field: string; what: string; skipRecordsWithEmptyValues?: boolean },
): { record: string[]; line: number }[] {
  try {
    const out = parse(text, {
      delimiter: detectDelimiter(text),
      bom: true,
      trim: true,
      skip_empty_lines: true,
      skip_records_with_empty_values: opts.skipRecordsWithEmptyValues ?? false,
      relax_column_count: true,
      relax_quotes: true,
      info: true,
    }) as unknown as { record: string[]; info: { lines: number } }[];
    return out.map((r) => ({ record: r.record, line: r.info.lines }));
  } catch (err) {
    const msg = err instanceof Error ? err.message : String(err);
    throw badRequest(`${opts.field}: could not be read as ${opts.what} (${msg})`, {
      [opts.field]: [`could not be read as ${opts.what}`],
    });
  }
}

/** The contact fields a CSV column can fill (contact imports and campaign audiences alike). */
export type CsvColumn =
  | 'phone'
  | 'name'
  | 'firstName'
  | 'lastName'
  | 'email'
  | 'company'
  | 'position'
  | 'tags'
  | 'leadStatus'
  | 'source'
  | 'notes';

/** Header names people use, by the field they mean (compared as `headerKey`). */
const COLUMN_ALIASES: Record<CsvColumn, string[]> = {
  phone: [
    'phone',
    'phonenumber',
    'mobile',
    'mobilenumber',
    'mobilephone',
    'whatsapp',
    'whatsappnumber',
    'number',
    'tel',
    'telephone',
    'cell',
    'msisdn',
  ],
  name: ['name', 'fullname', 'contactname', 'customername', 'contact'],
  firstName: ['firstname', 'givenname'],
  lastName: ['lastname', 'surname', 'familyname'],
  email: ['email', 'emailaddress', 'mail'],
  company: ['company', 'companyname', 'organisation', 'organization', 'business'],
  position: ['position', 'jobtitle', 'title', 'role'],
  tags: ['tags', 'tag', 'labels'],
  leadStatus: ['leadstatus', 'status'],
  source: ['source', 'leadsource'],
  notes: ['notes', 'note', 'comments', 'comment'],
};
const COLUMN_OF = new Map<string, CsvColumn>(
  Object.entries(COLUMN_ALIASES).flatMap(([column, names]) => names.map((n) => [n, column as CsvColumn])),
);

/** A header cell as compared: lower-case letters and digits only. */
export const headerKey = (cell: string) => cell.toLowerCase().replace(/[^a-z0-9]/g, '');

/** The field a header cell names, or null. */
export const columnOf = (cell: string): CsvColumn | null => COLUMN_OF.get(headerKey(cell)) ?? null;

/**
 * The columns of a first record that is a header (it names a known field and holds nothing that looks
 * like a phone number), or null when it is data. A header without a phone column is a BAD_REQUEST.
 */
export function headerColumns(first: string[], field: string): (CsvColumn | null)[] | null {
  const columns = first.map(columnOf);
  if (!columns.some((c) => c !== null) || first.some((c) => /\d{5,}/.test(c))) return null;
  if (!columns.includes('phone')) {
    throw badRequest(`${field}: the header has no phone column (for example "phone" or "mobile")`, {
      [field]: ['the header has no phone column'],
    });
  }
  return columns;
}
