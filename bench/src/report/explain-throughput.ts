import { ceilingOf, type ThroughputCases } from './connection-cases.js';
import type { ReportData } from './report-data.js';

/** db-safeguards throughput (without the CRITICAL reserve) must reach this share of the ceiling. */
export const throughputTarget = 0.95;
/** Within this of case 1b, db-safeguards adds no measurable cost of its own to one-at-a-time work. */
export const noOwnOverheadAt = 0.98;

const n = (value: number, digits = 2) =>
  value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });

/** How db-safeguards (no reserve) compares with the unguarded cases on one query. */
export interface ThroughputComparison {
  /** Against the ceiling (best of cases 1, 1b and 4). */
  ratio: number;
  /** Against case 1b: 8 connections, one query each at a time, as the budget runs them. */
  unpipelined: number;
  /** Case 1b against the ceiling: what pipelining is worth on this query. */
  oneAtATimeShare: number;
  ceilingLabel: '1' | '1b' | '4';
}

export function compareThroughput(cases: ThroughputCases): ThroughputComparison {
  const ceiling = ceilingOf(cases);
  return {
    ratio: cases.safeguardsNoReserve.throughput / ceiling.throughput,
    unpipelined: cases.safeguardsNoReserve.throughput / cases.oneAtATime.throughput,
    oneAtATimeShare: cases.oneAtATime.throughput / ceiling.throughput,
    ceilingLabel: ceiling.label,
  };
}

/**
 * Why db-safeguards without the reserve falls short of the ceiling, in sentences that each follow
 * from this run's figures: which case set the ceiling, what one query per connection at a time
 * reached, whether db-safeguards matched that (or what it cost beyond it), and on which query the
 * gap was wider.
 */
export function explainThroughputGap(data: ReportData): string {
  const sleep = compareThroughput(data.queries.sleep!.throughput);
  const app = compareThroughput(data.queries.app!.throughput);
  const both = (pick: (c: ThroughputComparison) => number) =>
    `${n(pick(sleep))} on \`pg_sleep\` and ${n(pick(app))} on the app's query`;
  const sentences = [
    `The ceiling is the best throughput any unguarded way of driving the role's connections reached in this run: case 1, 1b or 4, whichever is highest (here case ${sleep.ceilingLabel} for \`pg_sleep\`, case ${app.ceilingLabel} for the app's query).`,
    'A slot of the budget is one operation on one connection at a time: that is what makes a transaction safe and a per-operation deadline meaningful.',
  ];
  if (Math.min(sleep.oneAtATimeShare, app.oneAtATimeShare) < noOwnOverheadAt) {
    sentences.push(
      `Without pipelining, one query per connection at a time (case 1b) reached, as a share of the ceiling, ${both((c) => c.oneAtATimeShare)}: postgres.js on its own sends the next query behind the current one on the same connection, the budget does not.`,
    );
  } else {
    sentences.push(
      `One query per connection at a time (case 1b) reached the ceiling within ${Math.round((1 - noOwnOverheadAt) * 100)} % on both queries: pipelining bought nothing here.`,
    );
  }
  const costly = [
    ['`pg_sleep`', sleep],
    ["the app's query", app],
  ].filter(([, c]) => (c as ThroughputComparison).unpipelined < noOwnOverheadAt) as Array<
    [string, ThroughputComparison]
  >;
  sentences.push(
    costly.length === 0
      ? `Against case 1b db-safeguards reaches ${both((c) => c.unpipelined)}: what the budget costs is the pipelining, not overhead of its own.`
      : `Against case 1b db-safeguards reaches ${both((c) => c.unpipelined)}: beyond the pipelining, db-safeguards' own work per operation costs ${costly.map(([name, c]) => `${Math.round((1 - c.unpipelined) * 100)} % on ${name}`).join(' and ')}.`,
  );
  const difference = app.ratio - sleep.ratio;
  sentences.push(
    Math.abs(difference) < 0.01
      ? `The gap to the ceiling is the same on both queries (${n(sleep.ratio)} and ${n(app.ratio)}).`
      : difference < 0
        ? `The gap to the ceiling is wider on the app's query (${n(app.ratio)}) than on \`pg_sleep\` (${n(sleep.ratio)}).`
        : `The gap to the ceiling is narrower on the app's query (${n(app.ratio)}) than on \`pg_sleep\` (${n(sleep.ratio)}).`,
  );
  return sentences.join(' ');
}
