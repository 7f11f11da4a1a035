import { existsSync, readFileSync } from 'node:fs';

/** What `pnpm sim:shared-budget -- --out docs/shared-budget-sim.json` writes. */
interface SimulationRecord {
  command: string;
  generatedAt: string;
  output: string;
}

/**
 * The shared-budget simulation's section of docs/benchmarks.md, from `docs/shared-budget-sim.json`:
 * the simulator's own output, verbatim, with the command that made it. Undefined when there is none.
 */
export function renderSimulationSection(path: string): string | undefined {
  if (!existsSync(path)) return undefined;
  const record = JSON.parse(readFileSync(path, 'utf8')) as SimulationRecord;
  return [
    '## The shared budget at scale (simulation)',
    '',
    `Not from the run above: \`${record.command.replace(/ --out \S+/, '').replace(/ --$/, '')}\` on ${record.generatedAt.slice(0, 10)} (${record.generatedAt.slice(11, 16)} UTC). A discrete-event simulation on a simulated clock: the allocation code of \`@db-safeguards/redis\` (\`allocate\`, \`reap\` and the instance side, \`LeasedConnectionBudget\`) unchanged, Redis replaced by the same function behind a simulated network latency, 1,000 instances with bursty, Zipf-skewed demand over all five priorities, some joining late, some freezing while idle, 20 SIGKILLed mid-run. "Timed out" counts operations that waited past their 10 s deadline for a slot. The global count never above the capacity is the safety property; the rest is what the protocol costs.`,
    '',
    '```text',
    record.output.trimEnd(),
    '```',
    '',
    '- **Utilisation** is of the capacity while instances want it; the gap is slots on their way between instances (a renewal every 500 ms, a grant doubling at most once per 100 ms past an equal share) and slots held by instances frozen with a lease.',
    '- **First slot** of a new or woken instance: the median is a round trip or two; the tail is instances that wake while the capacity is contended and wait for others to give back at their next renewal.',
    '- **Killed instances**: their leases are reclaimed once Redis has dropped their connection and they are 1.5 s (`staleMs`) unrenewed, not after the 5 s lease.',
  ].join('\n');
}
