import { assertInteger, assertNumber, OptionError } from '../internal/validate.js';
import { Priority, type PriorityName } from '../priority.js';
import type { LoadSample, LoadSampler } from './load-sampler.js';

/** The priorities load may shed: every one but CRITICAL. */
export type SheddablePriorityName = Exclude<PriorityName, 'CRITICAL'>;

/**
 * Marks of one load signal, by priority: from this reading on, calls of that priority are refused
 * (`overloaded`). A priority without a mark is shed at the mark of the next priority above it that
 * has one, so a lower priority is never kept once a higher one is shed. CRITICAL has no mark: it is
 * never shed.
 *
 * @example
 * { LOW: 50, NORMAL: 200, HIGH: 1000 } // BATCH and LOW from 50, NORMAL from 200, HIGH from 1 000
 */
export type LoadMarks = Partial<Record<SheddablePriorityName, number>>;

/** The signals of a {@link LoadSample} that have marks. */
export type LoadSignal = keyof LoadSample;

/**
 * Options of the load monitor (`SafeguardsOptions.load`). See {@link defaultLoadOptions}. Marks given
 * for a signal replace that signal's default marks (they are not merged mark by mark).
 */
export interface LoadOptions {
  /**
   * Where the readings come from. Without one nothing is measured and nothing is shed. On Node:
   * `createProcessLoadSampler()`. Default undefined.
   */
  sampler: LoadSampler | undefined;
  /** Event-loop delay p99 (ms) marks; `false` ignores the signal. Default `{ LOW: 50, NORMAL: 200, HIGH: 1000 }`. */
  eventLoopDelayMs: LoadMarks | false;
  /** Event-loop utilisation (0..1) marks; `false` ignores it. Default `{ LOW: 0.95 }` (BATCH and LOW only). */
  eventLoopUtilization: LoadMarks | false;
  /** Heap used (bytes) marks; `false` ignores it. Default `false`: set them from your memory limit. */
  heapUsedBytes: LoadMarks | false;
  /** Resident set size (bytes) marks; `false` ignores it. Default `false`. */
  rssBytes: LoadMarks | false;
  /**
   * Event-loop utilisation (0..1) to hold the process at or below: past it, only a share of new
   * NORMAL calls is admitted (falling while the loop stays busier, rising once it has room) and no
   * LOW or BATCH call; HIGH and CRITICAL are never held back by it. A saturated loop leaves new
   * requests unread in the socket buffers, urgent ones with the rest: this keeps room to read them.
   * `false` turns it off. Default 0.9.
   */
  utilizationTarget: number | false;
  /**
   * The loop counts as past `utilizationTarget` only while its turns are also longer than this
   * (event-loop delay p99, ms). A loop kept busy by many short callbacks still reads each new request
   * within a turn; only when turns grow long do requests wait unread. Without this, a loop that is
   * always busy but turning quickly (measured: utilisation 1.0 at 1–20 ms of delay) held NORMAL to 5 %
   * of its calls while the process could have served far more. 0 judges utilisation alone. Default 10.
   */
  utilizationDelayMs: number;
  /**
   * How often the sampler is read, at most: readings are taken when a call is admitted (or metrics
   * are read) and this long has passed since the last, so an idle process reads nothing. Default 500.
   */
  sampleIntervalMs: number;
  /**
   * Readings in a row a signal must be past a mark for before its priority is shed (each signal's
   * lowest of them counts): with 2, one stall (a GC pause, the machine taking the CPU away for a
   * moment) sheds nothing, while load that lasts sheds from its second reading. Shedding stops at the
   * first reading below the mark. Default 2; 1 sheds on a single reading.
   */
  sustainedReadings: number;
}

export const defaultLoadOptions: Readonly<LoadOptions> = {
  sampler: undefined,
  eventLoopDelayMs: { LOW: 50, NORMAL: 200, HIGH: 1000 },
  eventLoopUtilization: { LOW: 0.95 },
  heapUsedBytes: false,
  rssBytes: false,
  utilizationTarget: 0.9,
  utilizationDelayMs: 10,
  sampleIntervalMs: 500,
  sustainedReadings: 2,
};

/** Every signal, in the order a refusal names the first one past its mark. */
export const loadSignals: readonly LoadSignal[] = [
  'eventLoopDelayMs',
  'eventLoopUtilization',
  'heapUsedBytes',
  'rssBytes',
];

/** Lowest priority first: the order marks must rise in. */
const sheddable: readonly SheddablePriorityName[] = ['BATCH', 'LOW', 'NORMAL', 'HIGH'];

/** Resolved marks: by priority value, the reading from which it is shed (Infinity: never). */
export type ResolvedMarks = readonly number[];

export interface ResolvedLoadOptions {
  sampler: LoadSampler | undefined;
  sampleIntervalMs: number;
  sustainedReadings: number;
  /** Marks of the signals in use, by signal. */
  marks: Partial<Record<LoadSignal, ResolvedMarks>>;
  /** See {@link LoadOptions.utilizationTarget}; undefined when off. */
  utilizationTarget: number | undefined;
  /** See {@link LoadOptions.utilizationDelayMs}. */
  utilizationDelayMs: number;
}

function resolveMarks(signal: LoadSignal, marks: LoadMarks, max: number): ResolvedMarks {
  for (const key of Object.keys(marks)) {
    if (!(sheddable as readonly string[]).includes(key)) {
      const never = key === 'CRITICAL' ? ' (CRITICAL is never shed)' : '';
      throw new OptionError(
        `load.${signal}.${key}`,
        `absent: marks are for BATCH, LOW, NORMAL or HIGH${never}`,
        marks[key as SheddablePriorityName],
      );
    }
  }
  let below: { name: string; value: number } | undefined;
  for (const name of sheddable) {
    const value = marks[name];
    if (value === undefined) continue;
    assertNumber(`load.${signal}.${name}`, value, Number.MIN_VALUE, max);
    if (below !== undefined && value < below.value) {
      throw new OptionError(
        `load.${signal}.${name}`,
        `at least load.${signal}.${below.name} (${below.value}): a higher priority is shed last`,
        value,
      );
    }
    below = { name, value };
  }
  // From the top down, a priority without a mark takes the mark of the next one above it.
  const resolved = [0, 0, 0, 0, Number.POSITIVE_INFINITY];
  let above = Number.POSITIVE_INFINITY;
  for (let i = sheddable.length - 1; i >= 0; i--) {
    const name = sheddable[i]!;
    above = Math.min(above, marks[name] ?? Number.POSITIVE_INFINITY);
    resolved[Priority[name]] = above;
  }
  return resolved;
}

/** Merges `options` over the defaults (mark by mark) and validates; a TypeError names the bad option. */
export function resolveLoadOptions(options: Partial<LoadOptions> = {}): ResolvedLoadOptions {
  const merged = { ...defaultLoadOptions, ...options };
  assertInteger('load.sampleIntervalMs', merged.sampleIntervalMs, 1);
  assertInteger('load.sustainedReadings', merged.sustainedReadings, 1, 100);
  if (merged.sampler !== undefined && typeof merged.sampler?.sample !== 'function') {
    throw new OptionError('load.sampler', 'a LoadSampler (an object with a sample() method)', merged.sampler);
  }
  const marks: Partial<Record<LoadSignal, ResolvedMarks>> = {};
  for (const signal of loadSignals) {
    const given = options[signal];
    const fallback = defaultLoadOptions[signal];
    if (given === false || (given === undefined && fallback === false)) continue;
    if (given !== undefined && (typeof given !== 'object' || given === null)) {
      throw new OptionError(`load.${signal}`, 'marks by priority, or false', given);
    }
    const max = signal === 'eventLoopUtilization' ? 1 : Number.POSITIVE_INFINITY;
    marks[signal] = resolveMarks(signal, (given ?? fallback) as LoadMarks, max);
  }
  const utilizationTarget =
    options.utilizationTarget === undefined
      ? defaultLoadOptions.utilizationTarget
      : options.utilizationTarget;
  if (utilizationTarget !== false) assertNumber('load.utilizationTarget', utilizationTarget, 0.1, 1);
  assertNumber('load.utilizationDelayMs', merged.utilizationDelayMs, 0, 60_000);
  return {
    sampler: merged.sampler,
    sampleIntervalMs: merged.sampleIntervalMs,
    sustainedReadings: merged.sustainedReadings,
    marks,
    utilizationTarget: utilizationTarget === false ? undefined : utilizationTarget,
    utilizationDelayMs: merged.utilizationDelayMs,
  };
}
