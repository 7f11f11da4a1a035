import { overloadedRefusal } from '../errors/refusals.js';
import type { SafeguardError } from '../errors/safeguard-error.js';
import type { Clock } from '../internal/clock.js';
import type { AdmissionGate } from '../pipeline/admission-gate.js';
import { Priority, type PriorityName, priorityName } from '../priority.js';
import {
  type LoadSignal,
  loadSignals,
  type ResolvedLoadOptions,
  type ResolvedMarks,
} from './load-options.js';
import type { LoadSample, LoadSamplePurpose, LoadSampler } from './load-sampler.js';
import { UtilizationThrottle } from './utilization-throttle.js';

/** The reading that sheds the highest priority being shed, and its mark. */
export interface LoadCause {
  signal: LoadSignal;
  value: number;
  mark: number;
  /** In words, e.g. "event-loop delay p99 230 ms >= 200 ms". */
  message: string;
}

/** A live readout of the load monitor (`SafeguardsMetrics.load`). */
export interface LoadStats {
  /** True when a sampler is configured; without one nothing is measured or shed. */
  monitoring: boolean;
  /** The priorities refused right now, highest first; [] when none. CRITICAL is never among them. */
  shedding: PriorityName[];
  /** Why the highest of them is shed; undefined when nothing is. */
  cause: LoadCause | undefined;
  /**
   * Share of new NORMAL calls admitted (1: all). Below 1 while the event loop is busier than
   * `load.utilizationTarget`: NORMAL is then in `shedding` (in part) and LOW and BATCH are refused.
   */
  normalShare: number;
  /** The latest readings ({} before the first). */
  sample: LoadSample;
  /** When they were taken (epoch ms), if ever. */
  sampledAt: number | undefined;
  /** New calls refused for load since the start, in all and by priority. */
  shed: number;
  shedByPriority: Record<PriorityName, number>;
}

const megabytes = (bytes: number) => `${Math.round(bytes / 1048576)} MB`;

/** How each signal is named and its readings written, for messages. */
const signalWords: Record<LoadSignal, [name: string, format: (value: number) => string]> = {
  eventLoopDelayMs: ['event-loop delay p99', (ms) => `${Math.round(ms)} ms`],
  eventLoopUtilization: ['event-loop utilisation', (share) => `${Math.round(share * 100)}%`],
  heapUsedBytes: ['heap used', megabytes],
  rssBytes: ['RSS', megabytes],
};

/** A reading against its mark, e.g. "event-loop delay p99 230 ms >= 200 ms". */
function describeCause(signal: LoadSignal, value: number, mark: number): string {
  const [name, format] = signalWords[signal];
  return `${name} ${format(value)} >= ${format(mark)}`;
}

/** The latest readings in words, e.g. "event-loop delay p99 12 ms, event-loop utilisation 35%". */
export function describeSample(sample: LoadSample): string {
  const parts: string[] = [];
  for (const signal of loadSignals) {
    const value = sample[signal];
    if (value === undefined) continue;
    const [name, format] = signalWords[signal];
    parts.push(`${name} ${format(value)}`);
  }
  return parts.join(', ');
}

/**
 * The process's own load as an admission input: it reads a {@link LoadSampler} at most every
 * `sampleIntervalMs` (lazily, when a call is admitted or stats are read: no timer of its own), and
 * from the readings and their marks decides which priorities new calls are refused for: BATCH and
 * LOW first, NORMAL next, HIGH only past its own mark, CRITICAL never. A refusal is `QUEUE_FULL` /
 * `overloaded`, retryable with a Retry-After.
 */
export class LoadMonitor implements AdmissionGate {
  private readonly sampler: LoadSampler | undefined;
  private readonly marks: ReadonlyArray<[LoadSignal, ResolvedMarks]>;
  private readonly intervalMs: number;
  private readonly sustained: number;
  /** The latest readings, newest last: at most `sustainedReadings` of them. */
  private recent: LoadSample[] = [];
  /** The highest priority value shed now; -1: none. */
  private shedThrough = -1;
  private cause: LoadCause | undefined = undefined;
  private lastSample: LoadSample = {};
  private sampledAt: number | undefined = undefined;
  private nextSampleAt: number;
  /**
   * A call was checked since the last reading. A reading that metrics or health take is then one
   * for admission all the same: the sampler may need to know calls are still coming (the process
   * sampler slows its probe otherwise), and frequent reports must not hide them.
   */
  private checkedSinceReading = false;
  private readonly shedCounts = [0, 0, 0, 0, 0];
  private readonly throttle: UtilizationThrottle | undefined;

  constructor(
    options: ResolvedLoadOptions,
    private readonly clock: Clock,
  ) {
    this.sampler = options.sampler;
    this.intervalMs = options.sampleIntervalMs;
    this.sustained = options.sustainedReadings;
    this.marks = loadSignals.flatMap((signal) => {
      const marks = options.marks[signal];
      return marks === undefined ? [] : [[signal, marks] as [LoadSignal, ResolvedMarks]];
    });
    // A loop busy past the target for less than this is a burst, not overload: served in full.
    const burstMs = 300;
    this.throttle =
      options.utilizationTarget === undefined
        ? undefined
        : new UtilizationThrottle(
            options.utilizationTarget,
            Math.max(1, Math.ceil(burstMs / options.sampleIntervalMs)),
            options.utilizationDelayMs,
          );
    // The first window starts now: a reading taken here would cover whatever ran before.
    this.nextSampleAt = clock.now() + this.intervalMs;
  }

  refusal(priority: Priority, now: number, admitted = false): SafeguardError | undefined {
    this.checkedSinceReading = true;
    if (now >= this.nextSampleAt) this.update(now);
    if (priority > this.shedThrough) {
      const throttle = this.throttle;
      // A call let through before was counted in the admitted share then.
      if (admitted || throttle === undefined || priority > throttle.heldThrough) return undefined;
      if (priority === Priority.NORMAL && throttle.admitNormal()) return undefined;
      this.shedCounts[priority]!++;
      return overloadedRefusal(priority, this.throttleCause(throttle).message);
    }
    this.shedCounts[priority]!++;
    return overloadedRefusal(priority, this.cause!.message);
  }

  stats(now = this.clock.now()): LoadStats {
    if (now >= this.nextSampleAt) this.update(now, 'report');
    const shedding: PriorityName[] = [];
    const held = this.throttle?.heldThrough ?? -1;
    const through = Math.max(this.shedThrough, held);
    for (let p = through; p >= 0; p--) shedding.push(priorityName(p as Priority));
    const [batch, low, normal, high, critical] = this.shedCounts as [number, number, number, number, number];
    return {
      monitoring: this.sampler !== undefined,
      shedding,
      cause:
        this.shedThrough >= Priority.NORMAL || held < 0 ? this.cause : this.throttleCause(this.throttle!),
      normalShare: this.throttle?.share ?? 1,
      sample: { ...this.lastSample },
      sampledAt: this.sampledAt,
      shed: batch + low + normal + high + critical,
      shedByPriority: { CRITICAL: critical, HIGH: high, NORMAL: normal, LOW: low, BATCH: batch },
    };
  }

  /**
   * True while new calls of some priority are refused for load: the process is too busy to read its
   * answers in time, so a deadline that passes now says little about the database.
   */
  isShedding(now = this.clock.now()): boolean {
    this.checkedSinceReading = true;
    if (now >= this.nextSampleAt) this.update(now);
    return this.shedThrough >= 0 || (this.throttle?.heldThrough ?? -1) >= 0;
  }

  /** Stops the sampler (its event-loop monitor). */
  close(): void {
    this.sampler?.close?.();
  }

  private update(now: number, purpose: LoadSamplePurpose = 'admission'): void {
    this.nextSampleAt = now + this.intervalMs;
    if (this.checkedSinceReading) purpose = 'admission';
    this.checkedSinceReading = false;
    if (this.sampler === undefined) return;
    let sample: LoadSample;
    try {
      sample = this.sampler.sample(purpose);
    } catch {
      // A sampler that cannot read says nothing about load: nothing is shed on its account.
      sample = {};
    }
    this.lastSample = sample;
    this.sampledAt = now;
    this.throttle?.update(sample.eventLoopUtilization, sample.eventLoopDelayMs);
    this.recent.push(sample);
    if (this.recent.length > this.sustained) this.recent.shift();
    let through = -1;
    let cause: Omit<LoadCause, 'message'> | undefined;
    for (const [signal, marks] of this.marks) {
      const value = this.sustainedValue(signal);
      if (value === undefined) continue;
      // Marks rise with priority: the first met from the top is the highest this signal sheds.
      for (let p = Priority.HIGH; p > through; p--) {
        if (value >= marks[p]!) {
          through = p;
          cause = { signal, value, mark: marks[p]! };
          break;
        }
      }
    }
    this.shedThrough = through;
    this.cause =
      cause === undefined
        ? undefined
        : { ...cause, message: describeCause(cause.signal, cause.value, cause.mark) };
  }

  /** Why the throttle holds calls back, e.g. "event-loop utilisation 97% > 90%: 35% of NORMAL calls admitted". */
  private throttleCause(throttle: UtilizationThrottle): LoadCause {
    const value = throttle.utilization ?? 1;
    const mark = throttle.targetUtilization;
    const [name, format] = signalWords.eventLoopUtilization;
    return {
      signal: 'eventLoopUtilization',
      value,
      mark,
      message: `${name} ${format(value)} past ${format(mark)}: ${throttle.active ? `${Math.round(throttle.share * 100)}% of NORMAL calls admitted` : 'LOW and BATCH calls held back'}`,
    };
  }

  /** The signal's lowest reading of the last `sustainedReadings`; undefined until there are that many. */
  private sustainedValue(signal: LoadSignal): number | undefined {
    if (this.recent.length < this.sustained) return undefined;
    let lowest = Number.POSITIVE_INFINITY;
    for (const sample of this.recent) {
      const value = sample[signal];
      if (value === undefined || !(value >= 0)) return undefined;
      lowest = Math.min(lowest, value);
    }
    return lowest;
  }
}
