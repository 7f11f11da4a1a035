import type { ReadOnlyStatus } from '../degradation/read-only-mode.js';
import type { SafeguardsMetrics } from '../safeguards-metrics.js';
import type { HealthOptions } from './health-options.js';
import { loadHealth } from './load-health.js';

export type HealthStatus = 'healthy' | 'degraded' | 'unhealthy';

export interface ComponentHealth {
  status: HealthStatus;
  message: string;
}

export interface HealthAlert {
  level: 'warning' | 'critical';
  component: string;
  message: string;
}

/** Result of the optional database probe. */
export interface ProbeResult {
  ok: boolean;
  responseTimeMs: number;
  error?: string;
  /** The database refused the probe as full (53300 and kin): it is up, so this is not unhealthy. */
  full?: boolean;
}

/** The health of one Safeguards instance, built from live readouts (and the probe, when asked for). */
export interface HealthReport {
  status: HealthStatus;
  /** 200 healthy, 206 degraded, 503 unhealthy. */
  httpStatus: 200 | 206 | 503;
  timestamp: string;
  uptimeMs: number;
  components: {
    queue: ComponentHealth;
    circuitBreakers: Record<string, ComponentHealth>;
    rateLimit: ComponentHealth;
    errors: ComponentHealth;
    latency: ComponentHealth;
    /** The effective connection limit: lowered by load it is still healthy (see `capacityHealth`). */
    capacity: ComponentHealth;
    /** The process's own load: degraded while it sheds, never unhealthy. */
    load: ComponentHealth;
    database?: ComponentHealth & { responseTimeMs: number };
  };
  metrics: SafeguardsMetrics;
  alerts: HealthAlert[];
  /** Non-null while writes are refused (read-only mode). */
  degradation: ReadOnlyStatus | null;
}

const rank: Record<HealthStatus, number> = { healthy: 0, degraded: 1, unhealthy: 2 };

function grade(value: number, degradedAt: number, unhealthyAt: number): HealthStatus {
  return value >= unhealthyAt ? 'unhealthy' : value >= degradedAt ? 'degraded' : 'healthy';
}

const percent = (share: number) => `${Math.round(share * 100)}%`;

/**
 * The effective limit is load, not a fault: lowered by the database's "full" answers or by a shared
 * budget's grant it stays healthy. Only running on a fallback because the shared budget cannot be
 * reached is degraded (206), never unhealthy.
 */
function capacityHealth(metrics: SafeguardsMetrics): ComponentHealth {
  const { capacity } = metrics;
  if (capacity.shared?.mode === 'fallback') {
    return {
      status: 'degraded',
      message: `the shared budget is unreachable (${capacity.shared.lastError ?? 'no answer'}): running on the local fallback, ${capacity.effective} of ${capacity.configured} connections allowed now`,
    };
  }
  const why =
    capacity.limitedBy === undefined
      ? ''
      : capacity.limitedBy === 'database'
        ? ' (the database refused connections as full)'
        : ` (limited by ${capacity.limitedBy})`;
  return {
    status: 'healthy',
    message: `${capacity.effective} of ${capacity.configured} connections allowed now${why}`,
  };
}

/** Grades every component against `options` and derives the overall status, HTTP status and alerts. */
export function buildHealthReport(
  metrics: SafeguardsMetrics,
  options: HealthOptions,
  probe: ProbeResult | undefined,
  now: number,
): HealthReport {
  const { queue } = metrics;
  // A full queue is the budget working under load: degraded at most, never unhealthy.
  let queueStatus: HealthStatus = queue.queueFill >= options.queueDegradedAt ? 'degraded' : 'healthy';
  let queueMessage = `${queue.active}/${queue.maxConcurrentConnections} connections in use, ${queue.queued} waiting (${percent(queue.queueFill)} of queue)`;
  if (queue.paused.length > 0) {
    const allPaused = queue.paused.length === 5;
    if (rank[queueStatus] < rank[allPaused ? 'unhealthy' : 'degraded'])
      queueStatus = allPaused ? 'unhealthy' : 'degraded';
    queueMessage += `; paused: ${queue.paused.join(', ')}`;
  }
  if (queue.closed) {
    queueStatus = 'unhealthy';
    queueMessage += '; shutting down';
  }

  const circuitBreakers: Record<string, ComponentHealth> = {};
  for (const [name, breaker] of Object.entries(metrics.breakers)) {
    const status: HealthStatus =
      breaker.state === 'CLOSED' ? 'healthy' : breaker.state === 'HALF_OPEN' ? 'degraded' : 'unhealthy';
    const message =
      breaker.state === 'CLOSED'
        ? 'closed (normal operation)'
        : breaker.state === 'HALF_OPEN'
          ? 'half-open (testing recovery)'
          : breaker.state === 'OPEN'
            ? `open (failing fast; probes at ${new Date(breaker.nextAttemptAt ?? now).toISOString()})`
            : 'isolated (held open by an operator)';
    circuitBreakers[name] = { status, message };
  }

  // Informational only: tightened limits are the safeguards working on the clients above their fair
  // share, not a sign of trouble with the database (the queue and latency grade the load itself).
  const { multiplier, tightenedClients } = metrics.rateLimits;
  const rateLimit: ComponentHealth = {
    status: 'healthy',
    message:
      tightenedClients > 0
        ? `limits of ${tightenedClients} client${tightenedClients === 1 ? '' : 's'} above their fair share tightened to ${percent(multiplier)} under lasting load`
        : 'normal limits',
  };

  const ops = metrics.operations;
  const enough = ops.windowTotal >= options.errorRateMinimumOperations;
  const errors: ComponentHealth = {
    status: enough
      ? grade(ops.errorRate, options.errorRateDegradedAt, options.errorRateUnhealthyAt)
      : 'healthy',
    message: enough
      ? `${percent(ops.errorRate)} of ${ops.windowTotal} recent operations failed`
      : `${ops.windowFailed} failures in ${ops.windowTotal} recent operations (too few to rate)`,
  };

  const p95 = ops.durationMs.p95;
  const latency: ComponentHealth = {
    status: grade(p95, options.latencyDegradedMs, options.latencyUnhealthyMs),
    message: `p95 ${Math.round(p95)} ms over the last ${ops.durationMs.count} operations`,
  };

  const components: HealthReport['components'] = {
    queue: { status: queueStatus, message: queueMessage },
    circuitBreakers,
    rateLimit,
    errors,
    latency,
    capacity: capacityHealth(metrics),
    load: loadHealth(metrics.load),
  };
  if (probe) {
    components.database = {
      status: probe.ok
        ? grade(probe.responseTimeMs, options.latencyDegradedMs, options.latencyUnhealthyMs)
        : probe.full
          ? 'healthy'
          : 'unhealthy',
      message: probe.ok
        ? `responded in ${Math.round(probe.responseTimeMs)} ms`
        : probe.full
          ? `up, but at its connection limit: ${probe.error ?? 'too many connections'}`
          : `probe failed: ${probe.error ?? 'unknown error'}`,
      responseTimeMs: probe.responseTimeMs,
    };
  }

  const alerts: HealthAlert[] = [];
  const consider = (component: string, health: ComponentHealth) => {
    if (health.status !== 'healthy') {
      alerts.push({
        level: health.status === 'unhealthy' ? 'critical' : 'warning',
        component,
        message: health.message,
      });
    }
  };
  consider('queue', components.queue);
  for (const [name, health] of Object.entries(circuitBreakers)) consider(`circuitBreakers.${name}`, health);
  consider('rateLimit', rateLimit);
  consider('errors', errors);
  consider('latency', latency);
  consider('capacity', components.capacity);
  consider('load', components.load);
  if (components.database) consider('database', components.database);
  if (metrics.readOnly.active) {
    alerts.push({
      level: 'warning',
      component: 'degradation',
      message: `read-only mode: ${metrics.readOnly.reason}`,
    });
  }

  let status: HealthStatus = 'healthy';
  for (const alert of alerts) {
    const level: HealthStatus = alert.level === 'critical' ? 'unhealthy' : 'degraded';
    if (rank[level] > rank[status]) status = level;
  }
  return {
    status,
    httpStatus: status === 'healthy' ? 200 : status === 'degraded' ? 206 : 503,
    timestamp: new Date(now).toISOString(),
    uptimeMs: metrics.uptimeMs,
    components,
    metrics,
    alerts,
    degradation: metrics.readOnly.active ? metrics.readOnly : null,
  };
}
