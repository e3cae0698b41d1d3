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
