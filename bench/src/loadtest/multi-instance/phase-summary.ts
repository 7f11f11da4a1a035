import type { LoopRecord } from './closed-loop.js';
import type { InstanceSample } from './instance-sampler.js';

/** What one phase of the multi-instance load test measured. */
export interface PhaseSummary {
  name: string;
  /** `local`: each instance its own budget (no Redis); `shared`: one budget on Redis. */
  mode: 'local' | 'shared';
  /** Which round of the run (1, 2, ...): each comparison and the kill scenario run once per round. */
  round: number;
  /** Instances the load went to, and clients per instance. */
  loadedInstances: number;
  clientsPerInstance: number;
  durationMs: number;
  ok: number;
  failed: number;
  /** Failures by `TYPE/reason` (or `NETWORK`, `HTTP_<status>`). */
  failures: Record<string, number>;
  /** Requests answered successfully per second, over the phase. */
  okPerSecond: number;
  highP99Ms: number | null;
  normalP99Ms: number | null;
  /** The most backends of the app role at once, sampled every 10 ms. */
  peakBackends: number | null;
  /** A primary breaker seen other than closed in a sample, or CIRCUIT_BREAKER errors at clients. */
  breakerOpenings: number;
  /** Samples in which an instance was in read-only mode, and read-only refusals at clients. */
  readOnly: number;
  /** Client-visible `CONNECTION/too-many-connections`. */
  tooManyConnections: number;
  /** The lowest effective limit any instance reported. */
  lowestLimit: number | null;
  /**
   * Per instance, the effective limit it reported over the phase, each change once, with what set
   * it (`d`: the database's "full" answers, `s`: the shared grant), e.g. `8 → 4s → 8`.
   */
  limitTrace: Record<string, string>;
  /** Per instance: answered calls and HIGH p99, so an instance left with few slots shows. */
  perInstance: Record<string, { ok: number; highP99Ms: number | null }>;
  /** The slowest answered HIGH calls, with when they were sent and the instance's limit then. */
  slowestHigh: SlowCall[];
}

/** One slow call: its instance, when it was sent, how long it took, and the limit sampled just before. */
export interface SlowCall {
  instance: number;
  sentAtMs: number;
  latencyMs: number;
  limitAtSend: number | null;
}

/** How many of the slowest HIGH calls a phase lists. */
const slowestListed = 5;

export function percentile(values: readonly number[], q: number): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!;
}

export function failureKey(record: LoopRecord): string {
  return record.reason ? `${record.errorType}/${record.reason}` : (record.errorType ?? 'UNKNOWN');
}

/** Summarises one phase's records and samples. Only requests that ended within the phase count. */
export function summarisePhase(
  base: Pick<
    PhaseSummary,
    'name' | 'mode' | 'round' | 'loadedInstances' | 'clientsPerInstance' | 'durationMs'
  >,
  records: readonly LoopRecord[],
  samples: readonly InstanceSample[],
  peakBackends: number | null,
): PhaseSummary {
  const inPhase = records.filter((r) => r.endedAtMs <= base.durationMs);
  const ok = inPhase.filter((r) => r.ok);
  const failures: Record<string, number> = {};
  for (const r of records.filter((r) => !r.ok)) failures[failureKey(r)] = (failures[failureKey(r)] ?? 0) + 1;
  const latencies = (priority: string) =>
    ok.filter((r) => r.priority === priority).map((r) => r.endedAtMs - r.startedAtMs);
  const count = (predicate: (key: string) => boolean) =>
    Object.entries(failures)
      .filter(([key]) => predicate(key))
      .reduce((sum, [, n]) => sum + n, 0);
  const limits = samples.map((s) => s.limit).filter((l): l is number => l !== undefined);
  return {
    ...base,
    ok: ok.length,
    failed: records.filter((r) => !r.ok).length,
    failures,
    okPerSecond: ok.length / (base.durationMs / 1000),
    highP99Ms: percentile(latencies('HIGH'), 0.99),
    normalP99Ms: percentile(latencies('NORMAL'), 0.99),
    peakBackends,
    breakerOpenings:
      samples.filter((s) => s.breaker !== undefined && s.breaker !== 0).length +
      count((key) => key.startsWith('CIRCUIT_BREAKER/') && key !== 'CIRCUIT_BREAKER/read-only'),
    readOnly: samples.filter((s) => s.readOnly).length + count((key) => key === 'CIRCUIT_BREAKER/read-only'),
    tooManyConnections: count((key) => key === 'CONNECTION/too-many-connections'),
    lowestLimit: limits.length === 0 ? null : Math.min(...limits),
    limitTrace: traceLimits(samples),
    perInstance: perInstance(ok),
    slowestHigh: slowestHigh(ok, samples),
  };
}

function perInstance(ok: readonly LoopRecord[]): PhaseSummary['perInstance'] {
  const byInstance = new Map<number, LoopRecord[]>();
  for (const r of ok) byInstance.set(r.instance, [...(byInstance.get(r.instance) ?? []), r]);
  return Object.fromEntries(
    [...byInstance.entries()]
      .sort(([a], [b]) => a - b)
      .map(([instance, records]) => [
        String(instance),
        {
          ok: records.length,
          highP99Ms: percentile(
            records.filter((r) => r.priority === 'HIGH').map((r) => r.endedAtMs - r.startedAtMs),
            0.99,
          ),
        },
      ]),
  );
}

function slowestHigh(ok: readonly LoopRecord[], samples: readonly InstanceSample[]): SlowCall[] {
  return ok
    .filter((r) => r.priority === 'HIGH')
    .sort((a, b) => b.endedAtMs - b.startedAtMs - (a.endedAtMs - a.startedAtMs))
    .slice(0, slowestListed)
    .map((r) => {
      const before = samples.filter(
        (s) => s.instance === r.instance && s.atMs <= r.startedAtMs && s.limit !== undefined,
      );
      return {
        instance: r.instance,
        sentAtMs: Math.round(r.startedAtMs),
        latencyMs: Math.round(r.endedAtMs - r.startedAtMs),
        limitAtSend: before.length === 0 ? null : before.reduce((a, b) => (b.atMs > a.atMs ? b : a)).limit!,
      };
    });
}

function traceLimits(samples: readonly InstanceSample[]): Record<string, string> {
  const traces: Record<string, string[]> = {};
  for (const s of [...samples].sort((a, b) => a.atMs - b.atMs)) {
    if (s.limit === undefined) continue;
    const by =
      s.limit === s.databaseLimit
        ? 'd'
        : s.limit === s.sharedLimit
          ? 's'
          : s.limit === s.peersLimit
            ? 'p'
            : '';
    const step = `${s.limit}${by}`;
    const trace = traces[String(s.instance)] ?? [];
    traces[String(s.instance)] = trace;
    if (trace.at(-1) !== step) trace.push(step);
  }
  return Object.fromEntries(Object.entries(traces).map(([instance, steps]) => [instance, steps.join(' → ')]));
}

/**
 * After `killAtMs`, how long until the surviving instances' clients answer, over every sliding second
 * from then to the end of the phase, at least `share` of what all instances did in the `windowMs`
 * before the kill: the first time from which they stay there, not the first good second (which a
 * closed loop reaches at once, its other clients simply going faster for a moment). Null if never.
 * `survivorsPerSecond`: what the survivors answered in each whole second from the kill to the end, so
 * a slow recovery shows which seconds fell short. `afterLeasePerSecond`: their rate from `leaseMs`
 * after the kill (when a dead instance's slots are back at the latest) to the end.
 */
export function recoveryAfterKill(
  records: readonly LoopRecord[],
  killed: number,
  killAtMs: number,
  endMs: number,
  share = 0.9,
  windowMs = 3000,
  leaseMs = 5000,
): {
  beforePerSecond: number;
  recoveryMs: number | null;
  afterPerSecond: number;
  afterLeasePerSecond: number | null;
  survivorsPerSecond: number[];
} {
  const okIn = (from: number, to: number, keep: (r: LoopRecord) => boolean) =>
    records.filter((r) => r.ok && r.endedAtMs > from && r.endedAtMs <= to && keep(r)).length;
  const beforePerSecond = okIn(killAtMs - windowMs, killAtMs, () => true) / (windowMs / 1000);
  const survivor = (r: LoopRecord) => r.instance !== killed;
  let recoveryMs: number | null = null;
  // Walk back from the end: the earliest window start after which no window falls short.
  for (let t = endMs - 1000; t >= killAtMs; t -= 100) {
    if (okIn(t, t + 1000, survivor) < share * beforePerSecond) break;
    recoveryMs = t + 1000 - killAtMs;
  }
  const tail = Math.min(windowMs, endMs - killAtMs);
  const survivorsPerSecond: number[] = [];
  for (let t = killAtMs; t + 1000 <= endMs; t += 1000) survivorsPerSecond.push(okIn(t, t + 1000, survivor));
  return {
    beforePerSecond,
    recoveryMs,
    afterPerSecond: okIn(endMs - tail, endMs, survivor) / (tail / 1000),
    afterLeasePerSecond:
      endMs - killAtMs > leaseMs
        ? okIn(killAtMs + leaseMs, endMs, survivor) / ((endMs - killAtMs - leaseMs) / 1000)
        : null,
    survivorsPerSecond,
  };
}

/**
 * After `killAtMs`, how long until the surviving instances' effective limits (each one's latest
 * sample) add up to `capacity` again: the dead instance's slots reached the living. Null if never in
 * the samples. Samples come every 500 ms per instance, so this is that coarse.
 */
export function slotsBackAfterKill(
  samples: readonly InstanceSample[],
  killed: number,
  killAtMs: number,
  capacity: number,
): number | null {
  const latest = new Map<number, number>();
  for (const s of [...samples].sort((a, b) => a.atMs - b.atMs)) {
    if (s.instance === killed || s.limit === undefined) continue;
    latest.set(s.instance, s.limit);
    if (s.atMs <= killAtMs) continue;
    let held = 0;
    for (const limit of latest.values()) held += limit;
    if (held >= capacity) return s.atMs - killAtMs;
  }
  return null;
}
