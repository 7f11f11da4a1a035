import { assertInteger } from '../internal/validate.js';
import type { LoadSample, LoadSamplePurpose, LoadSampler } from './load-sampler.js';

interface Utilization {
  idle: number;
  active: number;
  utilization: number;
}
type EventLoopUtilization = (current?: Utilization, previous?: Utilization) => Utilization;
type MemoryUsage = () => { heapUsed: number; rss: number };
type IntervalHandle = { unref?: () => void } | number;

/** Options of {@link createProcessLoadSampler}. */
export interface ProcessLoadSamplerOptions {
  /**
   * How often the event-loop probe's timer fires, in ms: the finest lag it sees. Each turn of the
   * loop it measures is at least this long, so this much is taken off to report the lag alone.
   * Default 10.
   */
  resolutionMs?: number;
  /**
   * How often memory is read, in ms: readings in between reuse the last one. `process.memoryUsage()`
   * walks the heap's spaces and reads `/proc`, about 0.1 ms on a small VM, and memory moves over
   * seconds, while the event loop is read ten times a second. Default 1000; 0 reads it every time.
   */
  memoryIntervalMs?: number;
  /**
   * The probe's timer slows to once a second after this long with no call admitted (no
   * `'admission'` reading), and the next such reading speeds it up again; turns older than this are
   * not read. Keep it a few times the load monitor's `sampleIntervalMs`. Default 5000.
   */
  pauseAfterMs?: number;
  /**
   * The probe's timer while the loop is quiet, in ms: after 10 readings in a row whose event-loop
   * utilisation is below 0.3 it fires this often, and the first reading at 0.5 or more puts it back
   * to `resolutionMs`. A block that begins while quiet is read up to this much short. Default 50.
   */
  quietResolutionMs?: number;
}

/** Below this utilisation a reading is quiet. */
const quietBelow = 0.3;
/** Quiet readings in a row before the probe's timer runs at its quiet interval. */
const quietAfterReadings = 10;
/** At or above this utilisation the probe's timer runs at its resolution again. */
const busyFrom = 0.5;

/**
 * Measures the event loop's turns with a timer of its own: each firing records how long it has been
 * since the previous one. The reading is weighted by time, not by count: the turn length that 99 %
 * of the window's time was spent in turns no longer than. A request arriving at a random moment
 * waits for the turn it lands in, so that is the lag requests see. (A histogram of firings, such as
 * `perf_hooks.monitorEventLoopDelay`, gives each turn one count whatever its length: an 800 ms block
 * among 119 normal 10 ms turns is 1 count in 120, below its p99 and its mean, though it is 40 % of
 * the time. It also drops the first turn after each reset: a block that starts just after a reading
 * would not be seen at all. Both were measured on Node 20.20.)
 *
 * When no call has been admitted for `pauseAfterMs` (no waking reading), the timer slows to once a
 * second: an idle process has little lag to measure, and each firing wakes it (on a small VM a 10 ms
 * timer alone cost 7.5 ms of CPU a second, measured with `process.cpuUsage` on 2026-12-07). Slowed,
 * it still sees a block of the loop (a job that admits nothing), as lateness against its own second.
 * The next waking reading speeds it up again; the time spent slowed is not a turn, so it never reads
 * as lag. A reading that does not wake it (a health check, a dashboard) reads what was recorded.
 * Turns older than `pauseAfterMs` are not read: a block from an hour ago says nothing of now.
 *
 * While the loop is quiet ({@link setQuiet}: the sampler says so after a second of low utilisation),
 * the timer fires every `quietMs` instead: a loop busy less than a third of the time has no turns
 * near the marks that shed (50 ms and more), and at a light, steady load most firings of a 10 ms
 * timer woke a sleeping process, a cost every call paid. Coarse, it still sees a long turn by how late
 * it fires, up to `quietMs` short for one that began just after a firing; the next reading, busy,
 * puts it back to its resolution.
 */
export class EventLoopProbe {
  private turns: number[] = [];
  /** When each turn in `turns` ended (same order). */
  private ends: number[] = [];
  private last: number;
  private timer: IntervalHandle | undefined;
  private interval: number;
  private lastReadAt: number;
  private stopped = false;
  /** The slowed timer's interval. */
  private readonly slowMs: number;
  /** The timer's interval while readers come and the loop is quiet. */
  private readonly quietMs: number;
  private quiet = false;

  /**
   * `maxTurns`: turns kept between two readings at most (about 40 s at 10 ms by default); older ones
   * are dropped. `pauseAfterMs`: how long without a waking reading before the timer slows down.
   */
  constructor(
    private readonly resolutionMs: number,
    private readonly now: () => number,
    private readonly maxTurns = 4096,
    private readonly pauseAfterMs = 5000,
    quietMs = 50,
  ) {
    this.slowMs = Math.max(resolutionMs, 1000);
    this.quietMs = Math.min(Math.max(resolutionMs, quietMs), this.slowMs);
    this.last = now();
    this.lastReadAt = this.last;
    this.interval = resolutionMs;
    this.timer = this.start(resolutionMs);
  }

  /** True while the timer runs for readers (at its resolution, or quiet): false once slowed, or stopped. */
  get running(): boolean {
    return this.timer !== undefined && this.interval !== this.slowMs;
  }

  /** The timer's interval now, in ms (undefined when stopped). */
  get intervalMs(): number | undefined {
    return this.timer === undefined ? undefined : this.interval;
  }

  /**
   * Whether the loop is quiet now: the timer then fires every `quietMs` rather than at its resolution.
   * Takes effect at once unless the timer is slowed (it then wakes to the matching interval).
   */
  setQuiet(quiet: boolean): void {
    if (quiet === this.quiet) return;
    this.quiet = quiet;
    if (this.stopped || this.timer === undefined || this.interval === this.slowMs) return;
    const at = this.now();
    // The time since the last firing is a turn of the old interval's kind.
    this.recordInProgress(at);
    this.last = at;
    this.restart(this.awakeInterval);
  }

  /** The interval while readers come. */
  private get awakeInterval(): number {
    return this.quiet ? this.quietMs : this.resolutionMs;
  }

  private start(interval: number): IntervalHandle {
    this.interval = interval;
    const timer = setInterval(() => {
      const at = this.now();
      // Slowed, a firing's own interval is not lag: what it came late by, as a turn of the resolution.
      this.record(at, at - this.last - (this.interval - this.resolutionMs));
      this.last = at;
      // Turns recorded so far stay for the next reading, a long one (what kept readers away) too.
      if (this.interval !== this.slowMs && at - this.lastReadAt >= this.pauseAfterMs)
        this.restart(this.slowMs);
    }, interval) as unknown as IntervalHandle;
    if (typeof timer === 'object' && typeof timer.unref === 'function') timer.unref();
    return timer;
  }

  private record(at: number, turn: number): void {
    if (this.turns.length >= this.maxTurns) {
      this.turns.splice(0, this.maxTurns / 2);
      this.ends.splice(0, this.maxTurns / 2);
    }
    this.turns.push(Math.max(this.resolutionMs, turn));
    this.ends.push(at);
  }

  /** Records the turn running since the last firing; slowed or quiet, a firing not yet due is no turn. */
  private recordInProgress(at: number): void {
    const inProgress = at - this.last - (this.interval - this.resolutionMs);
    if (this.interval === this.resolutionMs || inProgress > this.resolutionMs) this.record(at, inProgress);
  }

  private restart(interval: number): void {
    this.clear();
    this.timer = this.start(interval);
  }

  /** Turns recorded since the previous reading (for tests). */
  get recorded(): number {
    return this.turns.length;
  }

  /**
   * The lag over the turns since the previous reading (those of the last `pauseAfterMs`, at most
   * `maxTurns`), and the turn in progress (a reading taken in the same task as a long computation
   * sees it; that turn counts again, whole, in the next window).
   */
  read(wake = true): number {
    const at = this.now();
    if (this.timer !== undefined) this.recordInProgress(at);
    let first = 0;
    while (first < this.ends.length && this.ends[first]! < at - this.pauseAfterMs) first++;
    const turns = first === 0 ? this.turns : this.turns.slice(first);
    this.turns = [];
    this.ends = [];
    if (wake) {
      this.lastReadAt = at;
      if (!this.stopped && this.interval === this.slowMs) {
        // Slowed: awake again, from now.
        this.last = at;
        this.restart(this.awakeInterval);
      }
    }
    if (turns.length === 0) return 0;
    turns.sort((a, b) => b - a);
    let total = 0;
    for (const turn of turns) total += turn;
    // Longest first: the turn at which the time of the longer ones reaches 1 % of the window.
    let longer = 0;
    let reading = turns[turns.length - 1]!;
    for (const turn of turns) {
      longer += turn;
      if (longer >= total * 0.01) {
        reading = turn;
        break;
      }
    }
    return Math.max(0, reading - this.resolutionMs);
  }

  /** Stops the timer for good (readings then cover what was recorded before). */
  stop(): void {
    this.stopped = true;
    this.clear();
  }

  private clear(): void {
    if (this.timer === undefined) return;
    clearInterval(this.timer as Parameters<typeof clearInterval>[0]);
    this.timer = undefined;
  }
}

/**
 * Reads this process's load for the load monitor: event-loop delay (its own timer probe; see
 * {@link EventLoopProbe}: the turn length 99 % of the time is spent in turns no longer than, minus the
 * probe's interval), event-loop utilisation (`performance.eventLoopUtilization`) and heap used and
 * RSS (`process.memoryUsage`, read at most once per `memoryIntervalMs`), the loop's readings each over
 * the window since the previous reading. A runtime without
 * one of them leaves that reading out (it never sheds). Its timer never keeps the process alive;
 * `close()` (which `Safeguards.close` calls) stops it. It imports no Node module.
 *
 * @example
 * const safeguards = createSafeguards({
 *   load: { sampler: createProcessLoadSampler(), rssBytes: { LOW: 768 * 2 ** 20, HIGH: 2 ** 30 } },
 * });
 */
export function createProcessLoadSampler(options: ProcessLoadSamplerOptions = {}): LoadSampler {
  const resolutionMs = options.resolutionMs ?? 10;
  assertInteger('resolutionMs', resolutionMs, 1);
  const memoryIntervalMs = options.memoryIntervalMs ?? 1000;
  assertInteger('memoryIntervalMs', memoryIntervalMs, 0);
  const performance = (
    globalThis as {
      performance?: { now?: () => number; eventLoopUtilization?: EventLoopUtilization };
    }
  ).performance;
  const now = typeof performance?.now === 'function' ? performance.now.bind(performance) : Date.now;
  const pauseAfterMs = options.pauseAfterMs ?? 5000;
  assertInteger('pauseAfterMs', pauseAfterMs, 1);
  const quietResolutionMs = options.quietResolutionMs ?? 50;
  assertInteger('quietResolutionMs', quietResolutionMs, 1);
  const probe = new EventLoopProbe(resolutionMs, now, 4096, pauseAfterMs, quietResolutionMs);
  const utilization =
    typeof performance?.eventLoopUtilization === 'function'
      ? performance.eventLoopUtilization.bind(performance)
      : undefined;
  let previous = utilization?.();
  const process = (globalThis as { process?: { memoryUsage?: MemoryUsage } }).process;
  const memoryUsage =
    typeof process?.memoryUsage === 'function' ? process.memoryUsage.bind(process) : undefined;
  let memory: { heapUsed: number; rss: number } | undefined;
  let memoryReadAt = 0;
  let quietReadings = 0;

  return {
    sample(purpose?: LoadSamplePurpose) {
      const sample: LoadSample = { eventLoopDelayMs: probe.read(purpose !== 'report') };
      if (utilization !== undefined) {
        const current = utilization();
        const share = utilization(current, previous).utilization;
        sample.eventLoopUtilization = share;
        previous = current;
        quietReadings = share < quietBelow ? quietReadings + 1 : 0;
        if (quietReadings >= quietAfterReadings) probe.setQuiet(true);
        else if (share >= busyFrom) probe.setQuiet(false);
      }
      if (memoryUsage !== undefined) {
        const at = now();
        if (memory === undefined || at - memoryReadAt >= memoryIntervalMs) {
          memory = memoryUsage();
          memoryReadAt = at;
        }
        sample.heapUsedBytes = memory.heapUsed;
        sample.rssBytes = memory.rss;
      }
      return sample;
    },
    close() {
      probe.stop();
    },
  };
}
