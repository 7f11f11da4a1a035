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
  if (report.schemaVersion !== 2)
    throw new Error(
      `${path} has schema version ${String(report.schemaVersion)}, expected 2: run the load test again (${report.command ?? 'pnpm loadtest -- --instances 4'} --out ${path})`,
    );
  const { kills, outage, rateLimit } = report;
  // The limit traces and failures shown are the first round's; the table has every round.
  const localMany = report.phases.find((p) => p.mode === 'local' && p.loadedInstances > 1);
  const sharedMany = report.phases.find((p) => p.mode === 'shared' && p.loadedInstances > 1);
  const killText = (kill: (typeof kills)[number]) =>
    `round ${kill.phase.round}: killed at ${(kill.killAtMs / 1000).toFixed(1)} s of ${kill.phase.durationMs / 1000} s, ${kill.beforePerSecond.toFixed(1)} ok/s from all before it; the survivors at 0.9 × that or more over every second ${kill.recoveryMs === null ? 'at no point to the end of the phase' : `from ${(kill.recoveryMs / 1000).toFixed(1)} s after the kill on`}, ${kill.afterPerSecond.toFixed(1)} ok/s at the end${kill.afterLeasePerSecond == null ? '' : `, ${kill.afterLeasePerSecond.toFixed(1)} ok/s from the lease's end (${(kill.afterLeasePerSecond / kill.beforePerSecond).toFixed(2)} ×)`}${kill.withoutKill === undefined ? '' : ` (the same phase just before with nobody killed: ${kill.withoutKill.beforePerSecond.toFixed(1)} ok/s in the 3 s before 5 s, 0.9 × that over every second ${kill.withoutKill.recoveryMs === null ? 'at no point to the end' : `from ${(kill.withoutKill.recoveryMs / 1000).toFixed(1)} s after 5 s on`}${kill.withoutKill.afterLeasePerSecond == null ? '' : `, ${kill.withoutKill.afterLeasePerSecond.toFixed(1)} ok/s from 10 s on`})`}${kill.slotsBackMs === undefined ? '' : `; all ${report.connectionLimit} slots with the survivors ${kill.slotsBackMs === null ? 'never' : `${(kill.slotsBackMs / 1000).toFixed(1)} s after the kill`}`}; failures at their clients: ${describe(kill.survivorFailures)}`;
  const trace = (phase: typeof localMany) =>
    phase === undefined
      ? 'n/a'
      : Object.entries(phase.limitTrace)
          .map(([instance, steps]) => `instance ${instance}: ${steps}`)
          .join('; ');
  return [
    '## Many instances on one database',
    '',
    `Not from the run above: measured by \`${report.command} --out docs/multi-instance.json\` on ${report.generatedAt.slice(0, 10)} (${report.generatedAt.slice(11, 16)} UTC), on the same kind of machine, which other work shared. ${report.instances} sample-app processes (each with a budget of ${report.connectionLimit}) on one PostgreSQL whose app role has \`CONNECTION LIMIT ${report.connectionLimit}\`; ${report.clientsPerInstance} closed-loop clients per instance, each recording doses (HIGH) and reading dose histories (NORMAL), half and half, for ${report.durationMs / 1000} s (every user starts with a full page of 50 past doses, so a read does the same work in every phase; the reads are sent by the lean HTTP reader, see the open-loop section below, the recordings by the tRPC client); the same ${report.instances * report.clientsPerInstance} clients on one instance in the same round are the yardstick. Each comparison and the kill scenario ran ${report.rounds} times (rounds); ratios and the recovery are judged on the median round, counts that must be zero over every round. "Breaker" counts samples of a primary breaker not closed plus CIRCUIT_BREAKER refusals at clients; "read-only" the same for read-only mode; "lowest limit" is the lowest effective limit any instance reported (0: waiting for its grant).`,
    '',
    formatMultiInstance(report).split('\n').slice(2).join('\n'),
    '',
    '### Reading it',
    '',
    `- **Without Redis** the instances see each other in the database: each names its connections (\`application_name\` \`vetmed:<pid>-<random>\`), reads the role's backends in \`pg_stat_activity\` once a second while busy, and holds at most its share of the role's limit minus one slot (\`PEER_SHARE\`; the free slot is how an instance squeezed out connects and gets counted); beneath that share the adaptive limit still halves on 53300. Effective limits over the first round's phase (p: set by the share, d: by the database's answers): ${trace(localMany)}. ${localMany === undefined || localMany.failed === 0 ? 'No call failed' : `${localMany.failed} calls failed (${describe(localMany.failures)}): refused connections are retried until the call's deadline, and an instance left at 1 slot runs out of time`}; no breaker opened, nothing went read-only. The one-instance yardstick runs the same way (7 of 8 slots: the free one is kept there too).`,
    `- **With Redis** the grants move between instances as their demand does (s: set by the shared grant): ${trace(sharedMany)}. A slot an instance stops using stays reserved for 1.5 s (\`releaseDelayMs\`: the pool's 1 s idle timeout with \`REDIS_URL\`, plus a margin), until the connection behind it can have closed, and the pools reuse their most recently used connection first (postgres.js 3.4.9 through the workspace's patch), so a pool whose share fell lets its other connections go: the role's backends peaked at ${sharedMany?.peakBackends ?? 'n/a'} of ${report.connectionLimit}, and ${sharedMany?.tooManyConnections ?? 'n/a'} too-many-connections reached a client.${sharedMany !== undefined && sharedMany.failed > 0 ? ` ${sharedMany.failed} calls failed (${describe(sharedMany.failures)}), the traces above show which instance's grant fell and when.` : ''} Every call of the sample app also checks its rate limits on Redis (one round trip each), which the one-instance yardstick with Redis pays too.`,
    '- The machine is 2 cores shared with other work; the app processes, PostgreSQL, Redis and the load generator compete for them, so absolute rates and the ratios vary from run to run (the notes of the issue record every run).',
    '',
    '### What the scenarios showed',
    '',
    `- **One instance SIGKILLed** (lease ${(kills[0]?.leaseMs ?? 0) / 1000} s; Redis drops the dead process's connection, and a lease whose connection is gone and that has not been renewed for 1.5 s is reclaimed by the next instance Redis asks to check; the instance is started again between rounds): ${kills.map(killText).join('; ')}.`,
    "- **How the kill is judged:** the survivors must hold every slot again within the lease, and answer at least 0.9 × what every instance answered before the kill over the time from the lease's end to the phase's end (median round). The stricter measure beside it, every sliding second from some point on at 0.9 × or more, is shown too, but it cannot tell a kill from this machine: the same phase run just before each kill with nobody killed, measured the same way from 5 s in, missed it as often (in four runs of `pnpm loadtest -- --instances 4 --rounds 3` on 2026-12-08 between 01:28 and 02:18, this one the last, the controls took longer than 5 s in 4 of 12 rounds, 8.5 s, 9.3 s and never twice; the kills in 3 of 12, 8.2 s, 9.9 s and never): with four app processes, PostgreSQL, Redis and the clients on 2 cores, single seconds dip by a fifth whatever the budget does.",
    `- **Redis stopped** from ${(outage.stoppedAtMs / 1000).toFixed(1)} s to ${(outage.restartedAtMs / 1000).toFixed(1)} s of ${outage.phase.durationMs / 1000} s: ${outage.degradedInstances} of ${report.instances} instances answered \`/api/health\` with 206 (degraded) meanwhile, running on fallback limits of ${outage.fallbackLimits.join(', ') || 'n/a'}; failures of requests started during the outage: ${describe(outage.failuresDuringOutage)}; every instance was back in the shared mode ${outage.backToSharedMs === null ? 'not within the phase' : `${(outage.backToSharedMs / 1000).toFixed(1)} s after Redis returned`} (a Redis restarted without its data first learns for one lease).`,
    `- **Rate limit** \`reports\` at ${rateLimit.limit} a minute, one user sending ${rateLimit.sent} requests spread over the ${report.instances} instances: ${rateLimit.shared} admitted with the Redis store, ${rateLimit.local} without it (each instance counting alone).${Object.keys(rateLimit.failed).length > 0 ? ` Other failures: ${describe(rateLimit.failed)}.` : ''}`,
    '',
  ].join('\n');
}
