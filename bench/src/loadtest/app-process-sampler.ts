/**
 * What the app process itself spent during a run, read from its own Prometheus endpoint (prom-client's
 * default metrics): CPU time, as a share of one core per interval, and the event loop's lag. A load
 * test whose app is CPU-bound measures the app's event loop, not its connection budget; the report says
 * which one it was.
 */

/** The app process over a run: CPU in cores (1 = one core busy all the time), event-loop lag in ms. */
export interface AppProcessLoad {
  /** One-second samples taken. */
  samples: number;
  cpuCoresMean: number;
  cpuCoresPeak: number;
  /**
   * The highest p99 event-loop lag the app reported during the run (prom-client's histogram, less
   * its monitor's interval: see {@link appLagMonitorIntervalMs}).
   */
  eventLoopLagP99MsPeak: number;
}

/**
 * The sample app's prom-client event-loop monitor fires every 100 ms (`eventLoopMonitoringPrecision`
 * in apps/vetmed/src/server/metrics.ts), and Node's `monitorEventLoopDelay` records each whole
 * interval, not what it came late by: an idle loop reads 100 ms at every percentile. The lag is what
 * is beyond it.
 */
export const appLagMonitorIntervalMs = 100;

/** A metric's value from Prometheus text format (the first sample of `name` without labels). */
export function metricValue(text: string, name: string): number | undefined {
  const match = new RegExp(`^${name}(?:\\{\\})? ([0-9.eE+-]+)$`, 'm').exec(text);
  return match ? Number(match[1]) : undefined;
}

export interface AppProcessSampler {
  /** Stops sampling; undefined when no sample could be read (metrics off, another app). */
  stop(): AppProcessLoad | undefined;
}

/** Scrapes `${url}/metrics` every `intervalMs` with the bearer `token`. */
export function sampleAppProcess(url: string, token: string, intervalMs = 1000): AppProcessSampler {
  const cores: number[] = [];
  let lagPeakMs = 0;
  let last: { cpu: number; at: number } | undefined;
  let stopped = false;
  const scrape = async () => {
    try {
      const response = await fetch(`${url}/metrics`, {
        headers: { authorization: `Bearer ${token}` },
        signal: AbortSignal.timeout(intervalMs * 5),
      });
      if (!response.ok || stopped) return;
      const text = await response.text();
      const at = performance.now();
      const cpu = metricValue(text, 'process_cpu_seconds_total');
      const lag = metricValue(text, 'nodejs_eventloop_lag_p99_seconds');
      if (lag !== undefined) lagPeakMs = Math.max(lagPeakMs, lag * 1000 - appLagMonitorIntervalMs);
      if (cpu === undefined) return;
      if (last) cores.push((cpu - last.cpu) / ((at - last.at) / 1000));
      last = { cpu, at };
    } catch {
      // A scrape that times out under load is a lost sample, not a failed run.
    }
  };
  void scrape();
  const timer = setInterval(() => void scrape(), intervalMs);
  return {
    stop() {
      stopped = true;
      clearInterval(timer);
      if (cores.length === 0) return undefined;
      return {
        samples: cores.length,
        cpuCoresMean: cores.reduce((sum, value) => sum + value, 0) / cores.length,
        cpuCoresPeak: Math.max(...cores),
        eventLoopLagP99MsPeak: lagPeakMs,
      };
    },
  };
}
