// docs/reliability.md from one run of the fault-injection suite, and nothing else.
//
//   node tooling/render-reliability-report.mjs --run    what `pnpm reliability:report` does: clear the
//                                                      results folder, run the suite under a new run id,
//                                                      then render
//   node tooling/render-reliability-report.mjs --begin  clear the folder and start a run (prints its id)
//   node tooling/render-reliability-report.mjs          render the run the folder's run.json names
// Options: --results DIR (default .reports/reliability), --out FILE (default docs/reliability.md).
//
// Each test of the suite saves its figures as <id>.json with the run id it was given
// (RELIABILITY_RUN_ID), the time and the machine it ran on. The report is rendered only from files of
// the current run, and only when every expected one is there: a figure can never come from an older run.
import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));

/** The figures each run must produce, in report order. */
export const expectedScenarios = [
  '1-outage',
  '2-killed-backends',
  '3-network-stall',
  '4-connection-hog',
  '5-slow-queries',
  '6-neon-errors',
  '6b-neon-http',
  '7-reset-and-refused-connections',
  '8-outage-deferred-writes',
  '9-outage-deferred-writes-app-killed',
];
export const expectedBadInput = [
  'bad-input-procedures',
  'bad-input-classify-error',
  'bad-input-rate-limit-keys',
];

/** The abuse tests: one client (or one request) trying to take the app down for everyone. */
export const expectedAbuse = ['abuse-batch-flood', 'abuse-parsing', 'abuse-slow-clients'];

/** Thrown for a results folder the report must not be rendered from. */
export class ReliabilityResultsError extends Error {
  name = 'ReliabilityResultsError';
}

/** Empties `dir` and starts a run in it: `run.json` with a new id and the start time. */
export function beginRun(dir) {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const run = {
    runId: `${new Date().toISOString().replace(/[:.]/g, '-')}-${randomUUID().slice(0, 8)}`,
    startedAt: new Date().toISOString(),
  };
  writeFileSync(join(dir, 'run.json'), `${JSON.stringify(run, null, 2)}\n`);
  return run;
}

/** The current run's results, checked: all of them present, none from another run, one machine. */
export function readRun(dir) {
  const runFile = join(dir, 'run.json');
  if (!existsSync(runFile)) {
    throw new ReliabilityResultsError(
      `${runFile} is missing: run \`pnpm reliability:report\`, which starts a run, runs the suite and renders it.`,
    );
  }
  const run = JSON.parse(readFileSync(runFile, 'utf8'));
  const byId = new Map();
  for (const name of readdirSync(dir).filter((file) => file.endsWith('.json') && file !== 'run.json')) {
    const result = JSON.parse(readFileSync(join(dir, name), 'utf8'));
    if (result.runId !== run.runId) {
      throw new ReliabilityResultsError(
        `${name} belongs to run ${result.runId ?? '(none)'}, not to the current run ${run.runId}: its figures would be out of date.`,
      );
    }
    byId.set(result.id, result);
  }
  const missing = [...expectedScenarios, ...expectedBadInput, ...expectedAbuse].filter((id) => !byId.has(id));
  if (missing.length > 0) {
    throw new ReliabilityResultsError(
      `run ${run.runId} has no figures for ${missing.join(', ')}: did its tests fail or not run?`,
    );
  }
  const machines = new Set([...byId.values()].map((result) => JSON.stringify(result.machine)));
  if (machines.size !== 1)
    throw new ReliabilityResultsError(`run ${run.runId} was recorded on more than one machine`);
  return {
    run,
    machine: [...byId.values()][0].machine,
    scenarios: expectedScenarios.map((id) => byId.get(id)),
    badInput: expectedBadInput.map((id) => byId.get(id)),
    abuse: expectedAbuse.map((id) => byId.get(id)),
    lastMeasuredAt: [...byId.values()]
      .map((result) => result.measuredAt)
      .sort()
      .at(-1),
  };
}

const cell = (value) => (value === null || value === undefined ? 'n/a' : String(value));
const seconds = (value) => (value === null || value === undefined ? 'n/a' : `${(value / 1000).toFixed(1)} s`);
const minute = (iso) => `${iso.slice(0, 16).replace('T', ' ')} UTC`;

/** The report's markdown. */
const counts = (record) => {
  const entries = Object.entries(record ?? {}).sort(([, a], [, b]) => b - a);
  return entries.length === 0 ? 'none' : entries.map(([key, n]) => `${key} ×${n}`).join(', ');
};

/**
 * The kill and Redis-outage scenarios of several instances, from `docs/multi-instance.json`, which
 * `pnpm loadtest -- --instances 4 --out docs/multi-instance.json` writes: a run of its own, named as such.
 */
export function renderMultiInstanceScenarios(report) {
  const { kills, outage } = report;
  const s = (ms) =>
    ms === null || ms === undefined ? 'never within the phase' : `${(ms / 1000).toFixed(1)} s`;
  const leaseMs = kills[0]?.leaseMs ?? 0;
  return [
    '## Several instances: one killed, Redis gone',
    '',
    `Not from the fault-suite run above: measured by \`${report.command} --out docs/multi-instance.json\` on ${minute(report.generatedAt)} (see the multi-instance section of docs/benchmarks.md for its throughput figures). ${report.instances} sample-app processes share one PostgreSQL whose app role has \`CONNECTION LIMIT ${report.connectionLimit}\` and one connection budget on Redis (\`REDIS_URL\`, leases of ${leaseMs / 1000} s); ${report.clientsPerInstance} closed-loop clients per instance record doses and read histories.`,
    '',
    `### One instance SIGKILLed mid-run (${kills.length} ${kills.length === 1 ? 'round' : 'rounds'}, the instance started again between them)`,
    '',
    ...kills.map(
      (kill) =>
        `- round ${kill.phase.round}: killed at ${(kill.killAtMs / 1000).toFixed(1)} s of ${kill.phase.durationMs / 1000} s, all instances answering ${kill.beforePerSecond.toFixed(1)} calls/s before it; the survivors ran at 0.9 × that or more over every second ${kill.recoveryMs === null ? 'at no point to the end of the phase' : `from ${s(kill.recoveryMs)} after the kill to the end`}, ${kill.afterPerSecond.toFixed(1)} calls/s at the end${kill.afterLeasePerSecond == null ? '' : `, ${kill.afterLeasePerSecond.toFixed(1)} calls/s from the lease's end to the end (${(kill.afterLeasePerSecond / kill.beforePerSecond).toFixed(2)} × before)`}${kill.slotsBackMs === undefined ? '' : `; all ${report.connectionLimit} slots with the survivors ${kill.slotsBackMs === null ? 'never' : `${s(kill.slotsBackMs)} after the kill`}`}; failures at their clients: ${counts(kill.survivorFailures)}; peak backends ${kill.phase.peakBackends ?? 'n/a'} (limit ${report.connectionLimit}); breaker samples not closed ${kill.phase.breakerOpenings}`,
    ),
    `- the dead instance's slots return once Redis has dropped its connection (the kernel closes a killed process's sockets) and its lease has gone 1.5 s (\`staleMs\`) without renewal: the next instance Redis asks to check sees the client gone (\`CLIENT LIST ID\`) and reclaims the lease; a frozen instance that keeps its connection gets its full lease (${leaseMs / 1000} s), so nobody waits on a dead instance's slots for ever`,
    '',
    `### Redis stopped for 10 s mid-run`,
    '',
    `- stopped at ${(outage.stoppedAtMs / 1000).toFixed(1)} s, started again at ${(outage.restartedAtMs / 1000).toFixed(1)} s (empty: no persistence), of ${outage.phase.durationMs / 1000} s`,
    `- ${outage.degradedInstances} of ${report.instances} instances answered \`/api/health\` with 206 (degraded) during the outage; each ran on its local fallback (effective limits ${outage.fallbackLimits.join(', ') || 'n/a'}: the capacity divided by the instances Redis last counted, never unlimited)`,
    `- failures of calls started during the outage: ${counts(outage.failuresDuringOutage)}; peak backends ${outage.phase.peakBackends ?? 'n/a'}; breaker samples not closed ${outage.phase.breakerOpenings}`,
    `- back in the shared mode ${s(outage.backToSharedMs)} after Redis returned (a Redis restarted without its data first learns for one lease, handing out nothing new)`,
    '',
  ].join('\n');
}

export function renderReport({ run, machine, scenarios, badInput, abuse, lastMeasuredAt }, multiInstance) {
  const sum = (field) => scenarios.reduce((total, r) => total + r[field], 0);
  const recoveries = scenarios.map((r) => r.recoveryMs).filter((v) => v !== null && v !== undefined);
  const lines = [
    '# Reliability under faults',
    '',
    `Regenerated by \`pnpm reliability:report\`, which runs the fault-injection suite (\`apps/vetmed/test/faults\`) and renders this page from that run's figures only: run ${run.runId}, ${minute(run.startedAt)} to ${minute(lastMeasuredAt)}, on ${machine.cpus} × ${machine.cpuModel}, ${machine.platform}, Node ${machine.node}. The same suite runs in CI with every test.`,
    '',
    'Each scenario runs the sample app (tRPC over HTTP, the app role limited to 8 connections) against a real PostgreSQL, through a TCP proxy of our own that can pause, delay, refuse and reset traffic, while clients keep calling. Every dose recording carries an idempotency key; after the faults, every write a client saw fail is sent again with its key, as a client would. Doubles are looked for three ways: rows per key, the stock each dose draws down against the distinct doses acknowledged, and the committed executions of each dose insert counted at the database.',
    '',
    `**Totals:** ${sum('acknowledgedWrites')} acknowledged writes, **${sum('lostWrites')} lost, ${sum('duplicatedWrites')} duplicated**; longest recovery ${seconds(recoveries.length ? Math.max(...recoveries) : null)}.`,
    '',
    '| scenario | load | faults injected | requests | acknowledged writes | unacknowledged (reported failed) | lost writes | duplicated writes | stock drawn / distinct doses | recovery |',
    '|---|---|---|---:|---:|---:|---:|---:|---:|---:|',
    ...scenarios.map(
      (r) =>
        `| ${r.scenario} | ${r.load} | ${r.faults} | ${cell(r.requests)} | ${r.acknowledgedWrites} | ${r.unacknowledgedWrites} | **${r.lostWrites}** | **${r.duplicatedWrites}** | ${r.stockDrawn === null ? 'n/a' : `${r.stockDrawn} / ${r.distinctDoses}`} | ${seconds(r.recoveryMs)} |`,
    ),
    '',
    'Recovery: from the end of the fault (the server back, the stall over, the hog gone) to the end of the first call that then succeeded.',
    '',
    '## What each scenario showed',
    '',
    ...scenarios.flatMap((r) => [`### ${r.scenario}`, '', ...r.notes.map((note) => `- ${note}`), '']),
    '## Bad input',
    '',
    ...badInput.map(
      (r) => `- **${r.title}** (${r.runs} generated inputs, \`${r.test}\`): ${r.findings.join('; ')}.`,
    ),
    '',
    '## Abuse',
    '',
    'One client, or one request, trying to take the app down for everyone else (issue 11): each attack is a test that also runs in `pnpm test:security`; the figures are its own measurements against the real server and PostgreSQL above.',
    '',
    ...abuse.flatMap((r) => [
      `### ${r.title}`,
      '',
      `\`${r.test}\``,
      '',
      ...r.findings.map((finding) => `- ${finding}`),
      '',
    ]),
  ];
  if (multiInstance) lines.push(renderMultiInstanceScenarios(multiInstance));
  return `${lines.join('\n')}\n`;
}

function option(args, name, fallback) {
  const index = args.indexOf(name);
  return index >= 0 && args[index + 1] !== undefined ? resolve(args[index + 1]) : fallback;
}

function main(args) {
  const dir = option(args, '--results', join(root, '.reports/reliability'));
  const out = option(args, '--out', join(root, 'docs/reliability.md'));
  if (args.includes('--begin') || args.includes('--run')) {
    const run = beginRun(dir);
    console.log(run.runId);
    if (args.includes('--begin')) return 0;
    const suite = spawnSync(
      'pnpm',
      ['--filter', '@db-safeguards/vetmed', 'exec', 'vitest', 'run', 'test/faults'],
      {
        cwd: root,
        stdio: 'inherit',
        env: { ...process.env, RELIABILITY_RUN_ID: run.runId, RELIABILITY_RESULTS_DIR: dir },
      },
    );
    if (suite.status !== 0) {
      console.error(
        `The fault-injection suite failed (exit ${suite.status ?? suite.signal}): ${out} is left as it was.`,
      );
      return 1;
    }
  }
  try {
    const results = readRun(dir);
    const multiPath = join(root, 'docs/multi-instance.json');
    const multiInstance = existsSync(multiPath) ? JSON.parse(readFileSync(multiPath, 'utf8')) : undefined;
    writeFileSync(out, renderReport(results, multiInstance));
    console.log(
      `Wrote ${out} from run ${results.run.runId} (${results.scenarios.length} scenarios, ${results.badInput.length} bad-input tests, ${results.abuse.length} abuse tests).`,
    );
    return 0;
  } catch (error) {
    if (!(error instanceof ReliabilityResultsError)) throw error;
    console.error(error.message);
    return 1;
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.exitCode = main(process.argv.slice(2));
}
