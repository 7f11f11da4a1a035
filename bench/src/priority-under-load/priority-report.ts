import { existsSync, readFileSync } from 'node:fs';
import type { AppProcessLoad } from '../loadtest/app-process-sampler.js';

/** One open-loop phase, summarised. */
export interface OpenLoopPhase {
  normalPerSecond: number;
  highSent: number;
  highOk: number;
  highP50Ms: number;
  highP99Ms: number;
  /**
   * The slowest HIGH calls answered (at most 3), when each was sent (ms into the phase): a p99 of
   * 100-odd calls is its slowest one or two, and when they came says whether the burst's start or the
   * machine caused them. Absent in reports made before it was recorded.
   */
  slowestHigh?: { sentAtMs: number; latencyMs: number }[];
  highFailures: Record<string, number>;
  normalSent: number;
  normalOk: number;
  normalFailures: Record<string, number>;
  /** Calls answered with success within the phase, a second. */
  goodputPerSecond: number;
  /** The app's CPU and event-loop lag during the phase, from its /metrics. */
  app: AppProcessLoad | undefined;
  /** The load generator's own event-loop delay p99 (ms): a late generator inflates every latency. */
  generatorLagP99Ms: number;
  /**
   * CPU the generator's main process used during the phase, in cores (absent in reports made before
   * it was measured): what the load itself took of the machine the app runs on.
   */
  generatorCpuCores?: number;
}

export interface PriorityRound {
  capacityPerSecond: number;
  capacityFailures: Record<string, number>;
  /**
   * The yardstick's CPU during the capacity run (absent in reports made before it was measured):
   * with it, the CPU of a served call, and so what the refusals at 3 × took (see {@link cpuShares}).
   */
  capacityApp?: AppProcessLoad;
  light: OpenLoopPhase;
  heavy: OpenLoopPhase;
  highP99Ratio: number;
  goodputRatio: number;
}

/** What `pnpm bench:priority -- --json FILE` writes: every round of one invocation. */
export interface PriorityReport {
  schemaVersion: 1;
  command: string;
  machine: string;
  durationMs: number;
  generatedAt: string;
  rounds: PriorityRound[];
}

const describeFailures = (failures: Record<string, number>) =>
  Object.keys(failures).length === 0
    ? 'none'
    : Object.entries(failures)
        .map(([key, count]) => `${key} ×${count}`)
        .join(', ');

/**
 * Where the app's CPU went at 3 ×, from what the round measured: a served call is taken to cost what
 * it cost in the capacity run (the yardstick's CPU over its answered calls), and the rest of the
 * app's CPU at 3 × is put on the calls it did not serve (refused, or failed). Undefined without the
 * CPU of both runs, without calls refused, or when the calls served at 3 × would, at that cost,
 * account for all of the app's CPU (served calls then cost less at 3 ×: there is nothing to split).
 */
export function cpuShares(
  round: PriorityRound,
  durationMs: number,
):
  | {
      servedCpuUs: number;
      refusedPerSecond: number;
      refusedCpuUs: number;
      refusedShareOfCore: number;
      ratio: number;
    }
  | undefined {
  const { heavy, capacityApp } = round;
  if (capacityApp === undefined || heavy.app === undefined || round.capacityPerSecond <= 0) return undefined;
  const servedCpuUs = (capacityApp.cpuCoresMean / round.capacityPerSecond) * 1e6;
  // Counted as goodput is: calls answered with success within the phase; the rest were not served.
  const unserved = heavy.normalSent + heavy.highSent - heavy.goodputPerSecond * (durationMs / 1000);
  const refusedPerSecond = unserved / (durationMs / 1000);
  if (refusedPerSecond <= 0) return undefined;
  const servedCores = (heavy.goodputPerSecond * servedCpuUs) / 1e6;
  // Served calls that cost less at 3 × (more work per wake-up) leave nothing to split.
  if (servedCores >= heavy.app.cpuCoresMean) return undefined;
  const refusedShareOfCore = heavy.app.cpuCoresMean - servedCores;
  const refusedCpuUs = (refusedShareOfCore / refusedPerSecond) * 1e6;
  return {
    servedCpuUs,
    refusedPerSecond,
    refusedCpuUs,
    refusedShareOfCore,
    ratio: refusedCpuUs / servedCpuUs,
  };
}

export function formatRound(round: PriorityRound, index: number, durationMs?: number): string {
  const { light, heavy } = round;
  const verdict = (met: boolean) => (met ? 'met' : '**missed**');
  const highFailed = heavy.highSent - heavy.highOk + (light.highSent - light.highOk);
  return [
    `Round ${index + 1}: capacity ${round.capacityPerSecond.toFixed(1)} ok/s closed loop (failures: ${describeFailures(round.capacityFailures)})`,
    '',
    '| NORMAL arriving | HIGH sent | HIGH ok | HIGH p50 | HIGH p99 | HIGH failures | NORMAL sent | NORMAL ok | NORMAL refused or failed | goodput | app CPU mean / peak | app lag p99 peak | generator lag p99 | generator CPU |',
    '|---|---:|---:|---:|---:|---|---:|---:|---|---:|---:|---:|---:|---:|',
    ...[
      ['0.3 ×', light],
      ['3 ×', heavy],
    ].map(([label, p]) => {
      const phase = p as OpenLoopPhase;
      return `| ${label} capacity (${phase.normalPerSecond}/s) | ${phase.highSent} | ${phase.highOk} | ${phase.highP50Ms.toFixed(0)} ms | ${phase.highP99Ms.toFixed(0)} ms | ${describeFailures(phase.highFailures)} | ${phase.normalSent} | ${phase.normalOk} | ${describeFailures(phase.normalFailures)} | ${phase.goodputPerSecond.toFixed(1)} ok/s | ${phase.app ? `${phase.app.cpuCoresMean.toFixed(2)} / ${phase.app.cpuCoresPeak.toFixed(2)} cores` : 'n/a'} | ${phase.app ? `${phase.app.eventLoopLagP99MsPeak.toFixed(0)} ms` : 'n/a'} | ${phase.generatorLagP99Ms.toFixed(0)} ms | ${phase.generatorCpuCores === undefined ? 'n/a' : `${phase.generatorCpuCores.toFixed(2)} cores`} |`;
    }),
    '',
    `- HIGH p99 at 3 × ≤ 3 × at 0.3 ×: ${heavy.highP99Ms.toFixed(0)} vs ${light.highP99Ms.toFixed(0)} ms: ${round.highP99Ratio.toFixed(2)}× (${verdict(round.highP99Ratio <= 3)})${heavy.slowestHigh?.length ? `; slowest HIGH calls at 3 ×: ${heavy.slowestHigh.map((c) => `${c.latencyMs} ms sent at ${(c.sentAtMs / 1000).toFixed(1)} s`).join(', ')}` : ''}`,
    `- no HIGH call failed: ${highFailed} failed (${verdict(highFailed === 0)})`,
    `- goodput at 3 × ≥ 0.85 × capacity: ${heavy.goodputPerSecond.toFixed(1)} vs ${round.capacityPerSecond.toFixed(1)} ok/s: ${round.goodputRatio.toFixed(2)}× (${verdict(round.goodputRatio >= 0.85)})`,
    ...cpuLine(round, durationMs),
  ].join('\n');
}

function cpuLine(round: PriorityRound, durationMs: number | undefined): string[] {
  const shares = durationMs === undefined ? undefined : cpuShares(round, durationMs);
  if (shares === undefined || round.capacityApp === undefined || round.heavy.app === undefined) return [];
  return [
    `- the app's CPU: capacity run ${round.capacityApp.cpuCoresMean.toFixed(2)} cores for ${round.capacityPerSecond.toFixed(0)} ok/s, ${shares.servedCpuUs.toFixed(0)} µs a served call; at 3 × ${round.heavy.app.cpuCoresMean.toFixed(2)} cores, of which the ${shares.refusedPerSecond.toFixed(0)} calls a second not served took ${shares.refusedShareOfCore.toFixed(2)} (${shares.refusedCpuUs.toFixed(0)} µs each, ${shares.ratio.toFixed(2)} × a served call) if the served ones cost what they did in the capacity run`,
  ];
}

/**
 * The open-loop priority section of docs/benchmarks.md, from `docs/priority-under-load.json`: a run
 * of its own, so the section says which. Undefined when there is no such file.
 */
export function renderPrioritySection(path: string): string | undefined {
  if (!existsSync(path)) return undefined;
  const report = JSON.parse(readFileSync(path, 'utf8')) as PriorityReport;
  if (report.schemaVersion !== 1)
    throw new Error(`${path} has schema version ${String(report.schemaVersion)}, expected 1`);
  return [
    "## Urgent work when the app's own CPU runs out (open loop)",
    '',
    `Not from the run above: measured by \`${report.command.includes('--json') ? report.command : `${report.command} --json docs/priority-under-load.json`}\` on ${report.generatedAt.slice(0, 10)} (${report.generatedAt.slice(11, 16)} UTC), ${report.machine}, a machine the load generator and PostgreSQL share with the app. One sample-app process on PostgreSQL (role limited to 8). Capacity: 32 closed-loop clients reading dose histories (NORMAL) and 2 recording doses (HIGH) for ${report.durationMs / 1000} s, on a process of its own with the utilisation target off (the most the app serves); both processes first get 3 s of the same closed loop, unmeasured (a process's first seconds of load cost it more CPU). Then, on the app as shipped, open loop: dose recordings (HIGH) arriving at 10 a second beside history reads arriving at 0.3 × and then 3 × that capacity, ${report.durationMs / 1000} s each. Arrivals do not wait for answers, as real users' do not. The recordings are sent and timed from a Node process of their own (warmed up with 3 calls first): the generator's event loop, busy with up to a thousand reads a second, would add its own delays to them. "Generator lag" and "generator CPU" are that busy generator's. The history reads, in the capacity run and in the open loop, are sent by a lean HTTP reader (\`bench/src/loadtest/lean-history-read.ts\`: the request the tRPC client sends, a successful answer's body dropped undecoded, a refusal's decoded for its \`userFriendly.type\`): the generator runs on the app's 2 cores, and through the tRPC client it took 0.50 cores at 613 reads/s against the lean reader's 0.27 at 966/s (one round each, 2026-12-07; \`--reads-via trpc\` runs it the old way). Every round is listed.`,
    '',
    ...report.rounds.flatMap((round, index) => [formatRound(round, index, report.durationMs), '']),
    '### Reading it',
    '',
    "- **Why HIGH waits at 3 ×:** a refused call still costs the app an HTTP request's parsing and an answer, and at 3 × most reads are refused. When the event loop's turns grow long, new requests wait unread in the socket buffers, urgent ones with the rest: no priority can help a request the process has not read yet. The app holds NORMAL back once its loop is more than 90 % busy with turns longer than 10 ms (`LOAD_UTILIZATION_TARGET`, `LOAD_UTILIZATION_DELAY_MS`), from 300 ms of that on: it admits only a share of NORMAL calls (and no LOW or BATCH), so each new request is read within a short turn; HIGH and CRITICAL are never held back by it.",
    '- **The trade-off, measured (one round each, same machine, same hour):** judged on utilisation alone (`LOAD_UTILIZATION_DELAY_MS=0`, before the accept-queue fix below) the share fell to 5 % while the loop still turned every 1–20 ms: goodput 0.63×, HIGH p99 975 ms. With the target off: goodput 1.07×, HIGH p99 5,159 ms. With turns allowed up to 25 ms: goodput 1.09×, HIGH p99 9,735 ms. At 15 ms: goodput 0.84×, HIGH p99 192 ms. At 10 ms (the default), three rounds: goodput 0.81×, 0.59×, 1.00×; HIGH p99 229 ms in the second, 1,189 ms in the third. Serving more NORMAL work costs urgent calls seconds; on these 2 shared cores no setting met both targets in every round.',
    "- **Surges of new connections:** in the first second of the 3 × phase the load generator opens hundreds of connections. With Node's default accept queue (511) the kernel dropped thousands of them (`nstat`: TcpExtListenOverflows), and their clients retried after 1 s, 3 s, 7 s: most of the HIGH p99 before the app listened with a queue of 4096.",
    "- **Sessions due for a new lookup (fixed 2026-12-07):** the app keeps a verified bearer token 30 s. The HTTP edge used to decide only for tokens in that cache, so when the users' entries expired (together: they had signed in together), all their reads went down the whole tRPC path until a lookup of theirs got through a full queue, which under 3 × took the app's CPU for seconds: three runs of that day had their slowest HIGH calls in clusters sent within 0.3 s of each other, mid-phase, taking 0.5-4.4 s. The edge now decides for the user a token was last verified as until a lookup finds it gone (`SessionCache.lastVerified`).",
    "- **What is left of HIGH p99:** 10 HIGH calls a second, so a phase of 20 s has about two hundred and its p99 is the slowest two. At 3 × the app's core is full (1.0 cores) and every step of a call (reading the request, each query's answer, writing the response) waits behind turns of the event loop that run 25-30 ms at p99: HIGH p50 went from 7-8 ms to 30-35 ms on 2026-12-07, and p99 to 75-100 ms, spread over the phase rather than in bursts. The light phase's p99, the denominator, moves from 16 to 33 ms between rounds of one run on a quiet machine (and to 41-201 ms on a busy one), which is most of the spread of the ratio.",
    "- **Goodput against the capacity:** 34 closed-loop clients wait for each answer, so they need not fill the app; open-loop arrivals do, so goodput at 3 × can land above or below the yardstick. What the app can serve at 3 × is what is left of its core once it has refused the other two thirds of the arrivals at about 0.2 ms each (see the cost of a refused call): about 1,000 refusals a second take a fifth of the core, which is what goodput missed by (0.69-0.84 × at 15:30 on 2026-12-07), while the generator and PostgreSQL take their share of the same two cores. At 18:18 the same day, after the cuts to the CPU of a served call listed under the served-cost section, every round met it (0.89, 1.00, 0.87 ×) and HIGH p99 stayed within 1.03-2.30 ×; the machine was slower then (capacity 262-318 ok/s against 409-495 at 15:30). Later that evening, on a faster machine again (capacity 401-438), two runs missed it in every round: 0.79, 0.80, 0.28 × at 20:52 (round 3 with the app's NORMAL share held low while I compiled on the same cores) and 0.66, 0.80, 0.71 × at 21:01 on the final code (HIGH 4.18, 4.33, 2.21 ×). The arithmetic: when the app's one core is what limits the capacity, and the app may use a share U of it at 3 × (1 with the utilisation target off, about 0.9 while it acts), goodput is `(U − 3r) / (1 − r)` of the capacity, r being a refusal's CPU against a served call's: at 3 × the core serves x calls and refuses the other 3 − x (in units of the capacity). At U = 1 that is 0.85 × at r = 0.07 and 0.80 × at r = 0.09; at U = 0.9 it is 0.85 × only at r = 0.02, below what Node's own HTTP exchange costs. An earlier version of this paragraph gave `1 / (1 + 2r)`, which counts the refused calls as twice the served ones rather than as what was left of the arrivals.",
    "- **The CPU split line of each round (from 2026-12-07, 22:40):** the yardstick's CPU during the capacity run gives what a served call costs; at 3 ×, what the app's CPU held beyond the calls it served at that cost is put on the calls it did not serve. Two runs of that evening (3 rounds each, default settings) gave refused calls 144 and 181 µs each (0.07 and 0.08 × a served call) in the rounds where only the queue refused (goodput 0.84 and 0.81 ×), and 148–366 µs (goodput 0.61–0.83 ×) in rounds where the utilisation target also held NORMAL back (`QUEUE_FULL/overloaded`): the share it keeps free is CPU no call gets. A round whose goodput passes the capacity (1.01 × at 22:43, capacity 303 ok/s on a slow moment of the machine) has no split: its served calls cost less than in the capacity run. `bench:refusal-cost` measures 0.09–0.14 × for a rate-limit refusal on a warm app, over the tRPC client.",
    "- **The utilisation target on and off, same evening:** default (target 0.9), two runs: goodput 1.01, 0.84, 0.81 × and 0.61, 0.83, 0.78 ×; HIGH p99 at 3 × 98, 95, 120 ms and 135, 120, 130 ms. Off (`--app-env LOAD_UTILIZATION_TARGET=off`), one run: goodput 0.78, 0.95, 0.84 ×; HIGH p99 162, 116, 122 ms. Off served a little more and urgent calls waited about as long: since the accept-queue and session fixes above, the loop's turns at 3 × stay near 15–35 ms at p99 either way. The target stays on by default (it is what bounds the turns when the served calls are heavier than a 50-row read), and the figures are here to choose by. HIGH p50 at 3 × was 31–50 ms in every round: a call crosses the event loop five or six times (request, edge, two statements, answer), each behind a turn of the other thousand requests a second, so the HIGH ratio's denominator (the light phase's p99, 19–49 ms) decides most verdicts.",
  ].join('\n');
}
