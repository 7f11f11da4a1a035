import { assertInteger, assertNumber } from '../internal/validate.js';
import { Priority, type PriorityName } from '../priority.js';

/** Options of the connection budget. Every field has a default; see {@link defaultQueueOptions}. */
export interface QueueOptions {
  /** Operations that may hold a database connection at once. Env `QUEUE_MAX_CONNECTIONS`. Default 8. */
  maxConcurrentConnections: number;
  /** Waiters that may queue before arrivals are refused or displace lower priorities. Env `QUEUE_MAX_SIZE`. Default 200. */
  maxQueueSize: number;
  /** Longest time a waiter may wait for a slot. Env `QUEUE_TIMEOUT_MS`. Default 30 000. */
  timeoutMs: number;
  /** Slots only CRITICAL work may take, so a health check always gets through. Default 1. */
  reservedForCritical: number;
  /** A waiter that has waited this long counts as starving. Default 5 000; 0 turns starvation relief off. */
  starvationAfterMs: number;
  /**
   * Share of grants (0..1) that go to the oldest starving waiter below the highest waiting priority,
   * so LOW and BATCH always progress while higher priorities keep the rest. Relief never comes twice
   * in a row, and with a single ordinary slot (`maxConcurrentConnections - reservedForCritical` = 1,
   * or an effective limit lowered that far) it never passes over a HIGH or CRITICAL waiter: a HIGH call waits for lower work no longer than
   * the hold in progress when it arrived. Default 0.1.
   */
  starvationShare: number;
  /**
   * Load shedding: an arrival that would have to wait is refused at once when the queue is at least
   * this full (fraction of `maxQueueSize`) for its priority. Defaults: BATCH 0.5, LOW 0.75, others 1.
   */
  shedAt: Partial<Record<PriorityName, number>>;
  /**
   * After a deadline fires the caller is answered at once, but the slot stays taken while the
   * operation still runs (its connection is still busy). If it has not settled this long after the
   * deadline, the slot is reclaimed and counted as abandoned, so a driver that hangs for ever (as
   * postgres.js can after an ECONNRESET) cannot leak the budget for ever. The trade-off: the reclaimed
   * slot can be granted while the abandoned operation still holds its connection, so real connections
   * in use can exceed the budget by `stats().abandonedRunning` (counted until the operation settles);
   * the driver's own pool, sized to the budget, still caps real connections. Default 5 000.
   */
  abandonAfterMs: number;
}

export const defaultQueueOptions: Readonly<QueueOptions> = {
  maxConcurrentConnections: 8,
  maxQueueSize: 200,
  timeoutMs: 30_000,
  reservedForCritical: 1,
  starvationAfterMs: 5_000,
  starvationShare: 0.1,
  shedAt: { BATCH: 0.5, LOW: 0.75 },
  abandonAfterMs: 5_000,
};

/** Merges `options` over the defaults and validates the result; throws a TypeError naming the bad option. */
export function resolveQueueOptions(options: Partial<QueueOptions> = {}): QueueOptions {
  const resolved: QueueOptions = {
    ...defaultQueueOptions,
    ...options,
    shedAt: { ...defaultQueueOptions.shedAt, ...options.shedAt },
  };
  if (options.reservedForCritical === undefined && resolved.maxConcurrentConnections === 1) {
    resolved.reservedForCritical = 0;
  }
  assertInteger('queue.maxConcurrentConnections', resolved.maxConcurrentConnections, 1);
  assertInteger('queue.maxQueueSize', resolved.maxQueueSize, 0);
  assertInteger('queue.timeoutMs', resolved.timeoutMs, 1);
  assertInteger(
    'queue.reservedForCritical',
    resolved.reservedForCritical,
    0,
    resolved.maxConcurrentConnections - 1,
  );
  assertInteger('queue.starvationAfterMs', resolved.starvationAfterMs, 0);
  assertNumber('queue.starvationShare', resolved.starvationShare, 0, 1);
  assertInteger('queue.abandonAfterMs', resolved.abandonAfterMs, 0);
  for (const [name, fraction] of Object.entries(resolved.shedAt)) {
    if (!Object.hasOwn(Priority, name))
      throw new TypeError(`Expected queue.shedAt keys to be priority names, got "${name}"`);
    assertNumber(`queue.shedAt.${name}`, fraction, 0, 1);
  }
  return resolved;
}
