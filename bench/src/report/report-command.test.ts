import { describe, expect, it } from 'vitest';
import { reportCommand } from './report-command.js';

describe('reportCommand', () => {
  it('quotes the flags the run was measured with', () => {
    expect(reportCommand([])).toBe('pnpm bench:report');
    expect(reportCommand(['--quick'])).toBe('pnpm bench:report -- --quick');
    expect(reportCommand(['--', '--quick'])).toBe('pnpm bench:report -- --quick');
  });

  it('refuses a flag it does not know rather than quoting a command that does something else', () => {
    expect(() => reportCommand(['--fast'])).toThrow(
      'Expected flags among --quick, --render-only, got "--fast"',
    );
  });
});
