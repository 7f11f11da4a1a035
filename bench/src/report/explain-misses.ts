import type { ReportData } from './report-data.js';
import { errorsOf, n } from './report-tables.js';
import type { OpenLoopResult } from './workloads.js';

/** The priorities in the order they should be shed: BATCH first, CRITICAL last. */
export const shedOrder = ['BATCH', 'LOW', 'NORMAL', 'HIGH', 'CRITICAL'] as const;

/** Share of a priority's requests that did not succeed (0 when none was sent). */
export function refusedShare(result: OpenLoopResult, name: string): number {
  const r = result.byClass[name];
  return !r || r.sent === 0 ? 0 : (r.sent - r.ok) / r.sent;
}

/** Whether BATCH was refused something and no priority was refused a larger share than the one shed before it. */
export function isShedInOrder(result: OpenLoopResult): boolean {
  const shares = shedOrder.map((name) => refusedShare(result, name));
  return shares[0]! > 0 && shares.every((share, i) => i === 0 || share <= shares[i - 1]! + 1e-9);
}

const percent = (share: number) => `${n(share * 100)} %`;

function refusedOf(result: OpenLoopResult, name: string): string {
  const r = result.byClass[name]!;
  return `${n(r.sent - r.ok)} of ${n(r.sent)}: ${errorsOf(r)}`;
}

/**
 * Why "BATCH shed first" was missed, from the run's refusals: BATCH refused nothing, or which
 * priority was refused a larger share than the one that should have been shed before it, with
 * what each was refused with.
 */
export function explainShedOrder(result: OpenLoopResult): string {
  const present = shedOrder.filter((name) => result.byClass[name] !== undefined);
  const sentences: string[] = [];
  if (refusedShare(result, 'BATCH') === 0) {
    const refused = present.filter((name) => refusedShare(result, name) > 0);
    sentences.push(
      `BATCH was refused nothing (${n(result.byClass.BATCH?.sent ?? 0)} sent, all served)${
        refused.length === 0
          ? ', and neither was any other priority: the queue never had to shed.'
          : `, while ${refused.map((name) => `${name} was refused ${percent(refusedShare(result, name))} (${refusedOf(result, name)})`).join('; ')}.`
      }`,
    );
  }
  for (let i = 1; i < present.length; i++) {
    const [before, name] = [present[i - 1]!, present[i]!];
    // A BATCH that refused nothing is said above, with everything that was refused.
    if (before === 'BATCH' && refusedShare(result, before) === 0) continue;
    if (refusedShare(result, name) > refusedShare(result, before) + 1e-9) {
      sentences.push(
        `${name} was refused ${percent(refusedShare(result, name))} (${refusedOf(result, name)}), more than ${before}, which is shed before it, at ${percent(refusedShare(result, before))} (${refusedOf(result, before)}).`,
      );
    }
  }
  return sentences.join(' ');
}

/** One place the connection-error target counts, with the CONNECTION failures' reasons there. */
export interface ConnectionErrorPart {
  where: string;
  count: number;
  reasons: Readonly<Record<string, number>>;
}

/** Why the connection-error target was missed: what the clients saw, by reason, where. */
export function explainConnectionErrors(parts: readonly ConnectionErrorPart[]): string {
  const total = parts.reduce((sum, part) => sum + part.count, 0);
  const described = parts
    .filter((part) => part.count > 0)
    .map((part) => {
      const reasons = Object.entries(part.reasons)
        .filter(([, count]) => count > 0)
        .sort(([a, x], [b, y]) => y - x || a.localeCompare(b));
      const known = reasons.reduce((sum, [, count]) => sum + count, 0);
      const listed = reasons.map(([reason, count]) => `${n(count)} ${reason}`);
      if (known < part.count) listed.push(`${n(part.count - known)} with no reason recorded`);
      return `${listed.join(', ')} in ${part.where}`;
    });
  return `Clients of db-safeguards saw ${n(total)} ${total === 1 ? 'failure' : 'failures'} classified CONNECTION, by reason: ${described.join('; ')}.`;
}

/** The pipeline's target against cockatiel's retry + breaker + bulkhead: at most this multiple of its cost. */
export const cockatielTarget = 0.75;

/** A refused call's CPU in the sample app: at most this multiple of a served history read's. */
export const refusalCostTarget = 0.2;

/**
 * Why the comparison with cockatiel was missed, for each way of running that missed: both
 * pipelines' cost per operation, with the bare call and p-queue of the same rounds, and how much
 * each pipeline's cost grew from one operation at a time to many at once.
 */
export function explainPipelineMiss(pipeline: NonNullable<ReportData['pipeline']>): string {
  const find = (match: (name: string) => boolean) => pipeline.results.find((r) => match(r.name));
  const ours = find((name) => name === 'db-safeguards run (read)');
  const cockatiel = find((name) => name.startsWith('cockatiel'));
  const bare = find((name) => name === 'bare call');
  const pQueue = find((name) => name.startsWith('p-queue'));
  if (!ours || !cockatiel) return 'The run has no figures for db-safeguards or cockatiel to compare.';
  const modes = [
    { name: 'one operation at a time', key: 'sequentialNs', ratio: pipeline.headline.sequentialVsCockatiel },
    {
      name: `${n(pipeline.concurrency)} operations at once`,
      key: 'concurrentNs',
      ratio: pipeline.headline.concurrentVsCockatiel,
    },
  ] as const;
  const sentences = modes
    .filter((mode) => mode.ratio > cockatielTarget)
    .map(
      (mode) =>
        `With ${mode.name} db-safeguards took ${n(ours[mode.key])} ns per operation against cockatiel's ${n(cockatiel[mode.key])} ns (${n(mode.ratio, 2)}×)${
          bare || pQueue
            ? `; in the same rounds ${[bare ? `a bare call took ${n(bare[mode.key])} ns` : '', pQueue ? `p-queue ${n(pQueue[mode.key])} ns` : ''].filter(Boolean).join(' and ')}`
            : ''
        }.`,
    );
  const growth = (r: { sequentialNs: number; concurrentNs: number }) => r.concurrentNs / r.sequentialNs;
  if (pipeline.headline.concurrentVsCockatiel > cockatielTarget) {
    sentences.push(
      `From one at a time to ${n(pipeline.concurrency)} at once db-safeguards' cost per operation grew ${n(growth(ours), 1)}×, cockatiel's ${n(growth(cockatiel), 1)}×.`,
    );
  }
  return `${sentences.join(' ')} Median of ${n(pipeline.rounds)} interleaved rounds.`;
}
