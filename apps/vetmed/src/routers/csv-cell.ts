/**
 * One CSV cell. Text a spreadsheet would read as a formula (starting with = + - @, or a tab or
 * carriage return before one) gets a leading apostrophe, so an exported note such as
 * `=HYPERLINK(...)` shows as text instead of running when the file is opened. A `;` is quoted like a
 * `,`: spreadsheets in many locales split CSV on `;`, and an unquoted `note;=cmd` would open as a
 * second cell that starts with a formula.
 */
export function csvCell(value: unknown): string {
  const raw =
    value instanceof Date ? value.toISOString() : value === null || value === undefined ? '' : String(value);
  const text = /^[=+\-@\t\r]/.test(raw) ? `'${raw}` : raw;
  return /[",;\n\r]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}
