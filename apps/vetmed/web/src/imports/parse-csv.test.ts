import { describe, expect, it } from 'vitest';
import { parseCsv } from './parse-csv.js';

describe('parseCsv', () => {
  it('reads quoted cells with commas, quotes and line breaks, CRLF or LF, and skips empty lines', () => {
    const text = '\ufeffa,b,c\r\n1,"two, three","say ""hi"""\n\n"multi\nline",,last\n';
    expect(parseCsv(text)).toEqual([
      ['a', 'b', 'c'],
      ['1', 'two, three', 'say "hi"'],
      ['multi\nline', '', 'last'],
    ]);
  });

  it('keeps a last row without a line end, and empty cells at the ends', () => {
    expect(parseCsv(',x,')).toEqual([['', 'x', '']]);
    expect(parseCsv('')).toEqual([]);
  });
});
