import { metricValue } from './prometheus-text.js';

/** What one instance's `/metrics` (and `/api/health`, when asked) said at one moment. */
export interface InstanceSample {
  atMs: number;
  instance: number;
  /** The primary breaker: 0 closed, 1 half-open, 2 open, 3 isolated. */
  breaker: number | undefined;
  readOnly: boolean;
  /** The effective connection limit. */
  limit: number | undefined;
  /**
   * The `database` input (the adaptive limit after "too many connections"), the `shared` input (the
   * grant) and the `peers` input (the share among the instances seen in pg_stat_activity).
   */
  databaseLimit?: number | undefined;
  sharedLimit?: number | undefined;
  peersLimit?: number | undefined;
  /** The shared budget's mode, with REDIS_URL. */
  sharedMode: string | undefined;
  /** The HTTP status of `/api/health` (200, 206 degraded, 503), when health was sampled. */
  healthStatus?: number;
}

const modes = ['connecting', 'shared', 'learning', 'fallback', 'closed'];

/**
 * Reads every live instance's `/metrics` (and `/api/health` with `health: true`) every `everyMs`
 * until stopped. A failed read (a killed instance) is skipped.
 */
export function sampleInstances(
  urls: readonly string[],
  metricsToken: string,
  options: {
    everyMs?: number;
    health?: boolean;
    isLive?: (instance: number) => boolean;
    startedAt?: number;
  } = {},
) {
  const samples: InstanceSample[] = [];
  const started = options.startedAt ?? performance.now();
  let stopped = false;
  const readOne = async (url: string, instance: number) => {
    const atMs = performance.now() - started;
    try {
      const text = await (
        await fetch(`${url}/metrics`, { headers: { authorization: `Bearer ${metricsToken}` } })
      ).text();
      const sample: InstanceSample = {
        atMs,
        instance,
        breaker: metricValue(text, 'db_safeguards_circuit_state', { breaker: 'primary' }),
        readOnly: metricValue(text, 'db_safeguards_read_only') === 1,
        limit: metricValue(text, 'db_safeguards_connections_limit'),
        databaseLimit: metricValue(text, 'db_safeguards_connections_limit_input', { input: 'database' }),
        sharedLimit: metricValue(text, 'db_safeguards_connections_limit_input', { input: 'shared' }),
        peersLimit: metricValue(text, 'db_safeguards_connections_limit_input', { input: 'peers' }),
        sharedMode: modes.find(
          (mode) => metricValue(text, 'db_safeguards_shared_budget_mode', { mode }) === 1,
        ),
      };
      if (options.health) sample.healthStatus = (await fetch(`${url}/api/health`)).status;
      samples.push(sample);
    } catch {
      // A killed instance answers nothing: no sample.
    }
  };
  const loop = (async () => {
    while (!stopped) {
      await Promise.all(urls.map((url, i) => (options.isLive?.(i) === false ? undefined : readOne(url, i))));
      await new Promise((resolve) => setTimeout(resolve, options.everyMs ?? 500));
    }
  })();
  return {
    samples,
    /** Milliseconds since the sampler started (the phase's clock). */
    now: () => performance.now() - started,
    async stop(): Promise<InstanceSample[]> {
      stopped = true;
      await loop;
      return samples;
    },
  };
}
