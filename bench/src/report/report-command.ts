/** The flags `generate-report.ts` understands; anything else on its command line is refused. */
export const reportFlags = ['--quick', '--render-only'] as const;

/**
 * The command that reproduces a run, as the report quotes it: `pnpm bench:report`, plus the flags
 * this run was given (`--quick` shortens every case, so a figure from it must say so).
 *
 * @throws TypeError naming an unknown flag.
 */
export function reportCommand(args: readonly string[]): string {
  const flags = args.filter((arg) => arg !== '--');
  for (const flag of flags) {
    if (!(reportFlags as readonly string[]).includes(flag))
      throw new TypeError(`Expected flags among ${reportFlags.join(', ')}, got "${flag}"`);
  }
  const measuring = flags.filter((flag) => flag !== '--render-only');
  return measuring.length === 0 ? 'pnpm bench:report' : `pnpm bench:report -- ${measuring.join(' ')}`;
}
