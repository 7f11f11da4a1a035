import { assertInteger } from '../internal/validate.js';
import type { LoadSample, LoadSampler } from './load-sampler.js';

/** The part of Node's `IntervalHistogram` (from `perf_hooks.monitorEventLoopDelay`) the sampler uses. */
export interface EventLoopDelayHistogram {
  enable(): unknown;
  disable(): unknown;
  reset(): void;
  /** Nanoseconds. */
  percentile(percentile: number): number;
  readonly count: number;
}

/** `perf_hooks.monitorEventLoopDelay`. */
export type MonitorEventLoopDelay = (options?: { resolution?: number }) => EventLoopDelayHistogram;

let registered: MonitorEventLoopDelay | undefined;

/**
 * Called by the package's `node` entry with `perf_hooks.monitorEventLoopDelay`, so that the main
 * entry imports no Node module (it must load on edge runtimes) and old Node versions without
 * `process.getBuiltinModule` still measure the event loop.
 */
export function registerEventLoopDelayMonitor(monitor: MonitorEventLoopDelay): void {
  registered = monitor;
}

function findMonitor(): MonitorEventLoopDelay | undefined {
  if (registered !== undefined) return registered;
  const g = globalThis as {
    process?: { getBuiltinModule?: (id: string) => { monitorEventLoopDelay?: MonitorEventLoopDelay } };
  };
  try {
    return g.process?.getBuiltinModule?.('node:perf_hooks')?.monitorEventLoopDelay;
  } catch {
    return undefined;
  }
}

interface Utilization {
  idle: number;
  active: number;
  utilization: number;
}
type EventLoopUtilization = (current?: Utilization, previous?: Utilization) => Utilization;
type MemoryUsage = () => { heapUsed: number; rss: number };

/** Options of {@link createProcessLoadSampler}. */
export interface ProcessLoadSamplerOptions {
  /**
   * How often the event-loop monitor's timer fires, in ms: the finest lag it sees. Each recorded
   * delay is the time between two firings, so this much is taken off to report the lag alone.
   * Default 10.
   */
  resolutionMs?: number;
}

/**
 * Reads this process's load for the load monitor: event-loop delay p99 (`monitorEventLoopDelay`)
 * over the last two readings' windows, event-loop utilisation (`performance.eventLoopUtilization`) over the window since the previous
 * reading, and heap used and RSS (`process.memoryUsage`). A runtime without one of them leaves that
 * reading out (it never sheds). Its timer is the runtime's own and never keeps the process alive;
 * `close()` (which `Safeguards.close` calls) stops it.
 *
 * @example
 * const safeguards = createSafeguards({
 *   load: { sampler: createProcessLoadSampler(), rssBytes: { LOW: 768 << 20, NORMAL: 896 << 20, HIGH: 1 << 30 } },
 * });
 */
export function createProcessLoadSampler(options: ProcessLoadSamplerOptions = {}): LoadSampler {
  const resolutionMs = options.resolutionMs ?? 10;
  assertInteger('resolutionMs', resolutionMs, 1);
  // A histogram drops the first interval after each reset: a block that starts right after a
  // reading (readings are taken while a call is admitted, so often just before more work) would be
  // lost. Two histograms reset in turn: each reading is the p99 of the one reset two readings ago,
  // covering this window and the one before, so every lag shows in at least one reading.
  const monitor = findMonitor();
  const histograms =
    monitor === undefined
      ? []
      : [monitor({ resolution: resolutionMs }), monitor({ resolution: resolutionMs })];
  for (const histogram of histograms) histogram.enable();
  let older = 0;
  const performance = (globalThis as { performance?: { eventLoopUtilization?: EventLoopUtilization } })
    .performance;
  const utilization =
    typeof performance?.eventLoopUtilization === 'function'
      ? performance.eventLoopUtilization.bind(performance)
      : undefined;
  let previous = utilization?.();
  const process = (globalThis as { process?: { memoryUsage?: MemoryUsage } }).process;
  const memoryUsage =
    typeof process?.memoryUsage === 'function' ? process.memoryUsage.bind(process) : undefined;

  return {
    sample() {
      const sample: LoadSample = {};
      const delays = histograms[older];
      if (delays !== undefined) {
        // No firing recorded yet (a window shorter than the resolution): no reading rather than 0.
        if (delays.count > 0)
          sample.eventLoopDelayMs = Math.max(0, delays.percentile(99) / 1e6 - resolutionMs);
        delays.reset();
        older = 1 - older;
      }
      if (utilization !== undefined) {
        const current = utilization();
        sample.eventLoopUtilization = utilization(current, previous).utilization;
        previous = current;
      }
      if (memoryUsage !== undefined) {
        const memory = memoryUsage();
        sample.heapUsedBytes = memory.heapUsed;
        sample.rssBytes = memory.rss;
      }
      return sample;
    },
    close() {
      for (const histogram of histograms) histogram.disable();
    },
  };
}
