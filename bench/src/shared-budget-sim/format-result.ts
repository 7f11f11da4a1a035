import type { Percentiles, SimulationResult } from './run-simulation.js';

const ms = (value: number) => (value >= 100 ? value.toFixed(0) : value.toFixed(1));
const line = (p: Percentiles) =>
  `p50 ${ms(p.p50)} · p95 ${ms(p.p95)} · p99 ${ms(p.p99)} · max ${ms(p.max)} ms (n=${p.count})`;

/** The simulation's result as the text the command prints. */
export function formatResult(result: SimulationResult): string {
  const o = result.options;
  const rows = Object.entries(result.waitByPriority).map(
    ([name, p]) =>
      `| ${name.padEnd(8)} | ${String(p.offered).padStart(8)} | ${String(p.timedOut).padStart(6)} | ${ms(p.p50).padStart(6)} | ${ms(p.p95).padStart(6)} | ${ms(p.p99).padStart(7)} |`,
  );
  return [
    `shared-budget simulation: ${o.instances} instances, capacity ${o.capacity}, ${o.seconds} s simulated, load ${o.load} × capacity,`,
    `  operations ~${o.operationMs} ms, Redis one-way latency ~${o.latencyMs} ms, lease ${o.leaseMs} ms, renewal ${o.refreshMs} ms,`,
    `  bursts on ~2 s / off ~6 s, Zipf-skewed demand, ${Math.round(o.lateJoiners * 100)}% join late, ${Math.round(o.freezers * 100)}% freeze while idle, seed ${o.seed}`,
    '',
    `global count of operations running: max ${result.maxInUse} of ${o.capacity} (${result.maxInUse <= o.capacity ? 'never above the capacity' : 'ABOVE THE CAPACITY'})`,
    `utilisation of the capacity: ${(result.utilisation * 100).toFixed(1)}% overall; ${(result.utilisationWhenSaturated * 100).toFixed(1)}% while demand ≥ capacity (${(result.saturatedShare * 100).toFixed(0)}% of the time)`,
    `throughput: ${result.operationsPerSecond.toFixed(0)} operations/s`,
    `first slot of a new instance:   ${line(result.firstSlotNew)}`,
    `first slot of a woken instance: ${line(result.firstSlotWoken)}`,
    '',
    'wait for a slot by priority (ms):',
    '| priority | offered  | timed out | p50    | p95    | p99     |',
    '|----------|----------|--------|--------|--------|---------|',
    ...rows,
    '',
    `fairness between instances (Jain's index of served/offered, ${result.instancesCounted} instances with ≥ 20 operations): ${result.instanceFairness.toFixed(3)}`,
    `instances killed (SIGKILL) mid-run: ${result.crashFreed.count} of ${o.crashes}, ${o.reclaim > 0 ? 'reclaimed once their Redis connection is gone and their lease stale' : 'reclaimed by lease expiry only (--reclaim 0)'}`,
    `  slots free for others after: ${line(result.crashFreed)}; ${result.crashFreed.reaped} reaped, ${result.crashFreed.expired} expired`,
    `  taken up by others after:    ${line(result.crashTakenUp)}`,
    '',
    `Redis calls: ${result.redisCallsPerSecond.toFixed(0)}/s (${result.redisCallsPerInstancePerSecond.toFixed(2)} per instance per second), plus ${result.checksPerSecond.toFixed(1)} suspect checks/s and ${result.reapsPerSecond.toFixed(2)} reaps/s`,
    `(${result.simulatedEvents} events in ${result.wallSeconds.toFixed(1)} s of wall time)`,
  ].join('\n');
}
