import { existsSync, readFileSync } from 'node:fs';
import { describe, formatMultiInstance } from '../loadtest/multi-instance/multi-instance-targets.js';
import type { MultiInstanceReport } from '../loadtest/multi-instance/run-multi-instance.js';

/**
 * The multi-instance section of docs/benchmarks.md, from `docs/multi-instance.json`, which
 * `pnpm loadtest -- --instances 4 --out docs/multi-instance.json` writes: a run of its own, so the
 * section says which. Undefined when there is no such file.
 */
export function renderMultiInstanceSection(path: string): string | undefined {
  if (!existsSync(path)) return undefined;
  const report = JSON.parse(readFileSync(path, 'utf8')) as MultiInstanceReport;
  if (report.schemaVersion !== 1)
    throw new Error(`${path} has schema version ${String(report.schemaVersion)}, expected 1`);
  const { kill, outage, rateLimit } = report;
  return [
    '## Many instances on one database',
    '',
    `Not from the run above: measured by \`${report.command} --out docs/multi-instance.json\` on ${report.generatedAt.slice(0, 10)} (${report.generatedAt.slice(11, 16)} UTC), on the same kind of machine, which other work shared. ${report.instances} sample-app processes (each with a budget of ${report.connectionLimit}) on one PostgreSQL whose app role has \`CONNECTION LIMIT ${report.connectionLimit}\`; ${report.clientsPerInstance} closed-loop clients per instance, each recording doses (HIGH) and reading dose histories (NORMAL), half and half, for ${report.durationMs / 1000} s; the same ${report.instances * report.clientsPerInstance} clients on one instance in the same run are the yardstick. "Breaker" counts samples of a primary breaker not closed plus CIRCUIT_BREAKER refusals at clients; "read-only" the same for read-only mode; "lowest limit" is the lowest effective limit any instance reported (0: waiting for its grant).`,
    '',
    formatMultiInstance(report).split('\n').slice(2).join('\n'),
    '',
    '### What the scenarios showed',
    '',
    `- **One instance SIGKILLed** at ${(kill.killAtMs / 1000).toFixed(1)} s of ${kill.phase.durationMs / 1000} s: before it, ${kill.beforePerSecond.toFixed(1)} ok/s from all; the survivors were back to 0.9 × that ${kill.recoveryMs === null ? 'never within the phase' : `${(kill.recoveryMs / 1000).toFixed(1)} s after the kill`} (lease ${kill.leaseMs / 1000} s), and ran at ${kill.afterPerSecond.toFixed(1)} ok/s at the end. Failures at the survivors' clients: ${describe(kill.survivorFailures)}.`,
    `- **Redis stopped** from ${(outage.stoppedAtMs / 1000).toFixed(1)} s to ${(outage.restartedAtMs / 1000).toFixed(1)} s of ${outage.phase.durationMs / 1000} s: ${outage.degradedInstances} of ${report.instances} instances answered \`/api/health\` with 206 (degraded) meanwhile, running on fallback limits of ${outage.fallbackLimits.join(', ') || 'n/a'}; failures of requests started during the outage: ${describe(outage.failuresDuringOutage)}; every instance was back in the shared mode ${outage.backToSharedMs === null ? 'not within the phase' : `${(outage.backToSharedMs / 1000).toFixed(1)} s after Redis returned`} (a Redis restarted without its data first learns for one lease).`,
    `- **Rate limit** \`reports\` at ${rateLimit.limit} a minute, one user sending ${rateLimit.sent} requests spread over the ${report.instances} instances: ${rateLimit.shared} admitted with the Redis store, ${rateLimit.local} without it (each instance counting alone).${Object.keys(rateLimit.failed).length > 0 ? ` Other failures: ${describe(rateLimit.failed)}.` : ''}`,
    '',
  ].join('\n');
}
