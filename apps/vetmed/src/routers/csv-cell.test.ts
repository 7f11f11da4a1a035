import { describe, expect, it } from 'vitest';
import { csvCell } from './csv-cell.js';

describe('csvCell', () => {
  it('neutralises text a spreadsheet would run as a formula', () => {
    expect(csvCell('=1+1')).toBe("'=1+1");
    expect(csvCell('+SUM(A1:A9)')).toBe("'+SUM(A1:A9)");
    expect(csvCell('-2+3')).toBe("'-2+3");
    expect(csvCell('@cmd')).toBe("'@cmd");
    expect(csvCell('\t=1')).toBe("'\t=1");
    expect(csvCell('\r=1')).toBe('"\'\r=1"');
    expect(csvCell('=HYPERLINK("http://evil.example","x")')).toBe(
      '"\'=HYPERLINK(""http://evil.example"",""x"")"',
    );
  });

  it('quotes commas, quotes and line breaks, and leaves plain values alone', () => {
    expect(csvCell('Rex, the dog')).toBe('"Rex, the dog"');
    expect(csvCell('say "hi"')).toBe('"say ""hi"""');
    expect(csvCell('two\nlines')).toBe('"two\nlines"');
    expect(csvCell('1.0000')).toBe('1.0000');
    expect(csvCell('a=b')).toBe('a=b');
    // `;` separates cells in many locales: the formula after it stays inside the quoted cell.
    expect(csvCell('fine;=HYPERLINK("http://evil.example")')).toBe(
      '"fine;=HYPERLINK(""http://evil.example"")"',
    );
    expect(csvCell('a;-2+3')).toBe('"a;-2+3"');
    expect(csvCell(null)).toBe('');
    expect(csvCell(new Date('2024-01-02T03:04:05.000Z'))).toBe('2024-01-02T03:04:05.000Z');
  });
});
