import { parseCsv } from './parse-csv.js';

/** A regimen an imported row can be matched to, by its animal's and medication's names. */
export interface ImportableRegimen {
  id: string;
  animal: string;
  medication: string;
}

/** One row ready for `imports.administrations`. */
export interface ImportRow {
  regimenId: string;
  idempotencyKey: string;
  recordedAt: Date;
  doseAmount?: string;
  doseUnit?: string;
  notes?: string;
}

export interface ParsedImport {
  rows: ImportRow[];
  /** Lines that cannot be imported, with why (line numbers as a spreadsheet shows them). */
  problems: string[];
}

/** The columns read; the export's file has them all (`reports.export`). */
export const importColumns = [
  'recorded_at',
  'animal',
  'medication',
  'dose_amount',
  'dose_unit',
  'notes',
  'idempotency_key',
];
const required = ['recorded_at', 'animal', 'medication'];

const normalise = (text: string) => text.trim().toLowerCase();

/**
 * A row without an idempotency key gets one made from its content (SHA-256 of regimen, time, amount,
 * unit and notes): importing the same file twice then skips the rows already imported, as the
 * server skips a key it has stored.
 */
async function contentKey(row: Omit<ImportRow, 'idempotencyKey'>): Promise<string> {
  const text = [row.regimenId, row.recordedAt.toISOString(), row.doseAmount, row.doseUnit, row.notes].join(
    '\u001f',
  );
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text));
  const hex = [...new Uint8Array(digest)].map((byte) => byte.toString(16).padStart(2, '0')).join('');
  return `csv-${hex.slice(0, 40)}`;
}

/**
 * Reads a CSV of past doses (a header row naming the columns, then one dose per row) and matches each
 * row to a regimen by animal and medication name, case-insensitively.
 */
export async function readDoseRows(
  text: string,
  regimens: readonly ImportableRegimen[],
): Promise<ParsedImport> {
  const [header, ...lines] = parseCsv(text);
  if (!header) return { rows: [], problems: ['The file is empty.'] };
  const columns = header.map(normalise);
  const missing = required.filter((name) => !columns.includes(name));
  if (missing.length > 0)
    return { rows: [], problems: [`The first row must name the columns; missing: ${missing.join(', ')}.`] };
  const index = (name: string) => columns.indexOf(name);
  const byNames = new Map(
    regimens.map((regimen) => [`${normalise(regimen.animal)}\n${normalise(regimen.medication)}`, regimen]),
  );
  const rows: ImportRow[] = [];
  const problems: string[] = [];
  for (const [offset, cells] of lines.entries()) {
    const line = offset + 2;
    const cell = (name: string) => {
      const at = index(name);
      const value = at >= 0 ? cells[at]?.trim() : undefined;
      return value === '' ? undefined : value;
    };
    const regimen = byNames.get(`${normalise(cell('animal') ?? '')}\n${normalise(cell('medication') ?? '')}`);
    if (!regimen) {
      problems.push(
        `Line ${line}: no medication "${cell('medication') ?? ''}" prescribed for "${cell('animal') ?? ''}".`,
      );
      continue;
    }
    const recordedAt = new Date(cell('recorded_at') ?? '');
    if (Number.isNaN(recordedAt.getTime())) {
      problems.push(`Line ${line}: "${cell('recorded_at') ?? ''}" is not a date and time.`);
      continue;
    }
    const row: Omit<ImportRow, 'idempotencyKey'> = { regimenId: regimen.id, recordedAt };
    const amount = cell('dose_amount');
    const unit = cell('dose_unit');
    const notes = cell('notes');
    if (amount !== undefined) row.doseAmount = amount;
    if (unit !== undefined) row.doseUnit = unit;
    if (notes !== undefined) row.notes = notes;
    rows.push({ ...row, idempotencyKey: cell('idempotency_key') ?? (await contentKey(row)) });
  }
  return { rows, problems };
}
