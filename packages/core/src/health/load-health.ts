import { describeSample, type LoadStats } from '../load/load-monitor.js';

/**
 * The load component of the health report: degraded while new calls of some priority are refused
 * for load (event-loop lag, memory), healthy otherwise, and never unhealthy: a busy process is
 * working, and a load balancer that took it out would move its load onto the others.
 */
export function loadHealth(load: LoadStats): { status: 'healthy' | 'degraded'; message: string } {
  if (!load.monitoring) return { status: 'healthy', message: 'not monitored (no load sampler)' };
  const readings = describeSample(load.sample) || 'no readings yet';
  if (load.shedding.length === 0) return { status: 'healthy', message: readings };
  return {
    status: 'degraded',
    message: `shedding new ${load.shedding.join(', ')} calls: ${load.cause!.message}`,
  };
}
