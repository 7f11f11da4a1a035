import type { Safeguards } from '@db-safeguards/core';
import { type Logger, pino } from 'pino';
import type { LogLevel } from '../env.js';

/** Structured JSON logs on stdout (one object per line), with the service name on every line. */
export function createLogger(level: LogLevel, destination?: NodeJS.WritableStream): Logger {
  return pino(
    { level, base: { service: 'vetmed' }, timestamp: pino.stdTimeFunctions.isoTime },
    destination as never,
  );
}

/**
 * Logs what the safeguards do: breaker changes and abandoned slots always, refusals and retries at
 * debug (they can be many under load; the metrics count them). Returns a function that unsubscribes.
 */
export function logSafeguardEvents(safeguards: Safeguards, log: Logger): () => void {
  const subscriptions = [
    safeguards.onBreakerStateChange((change) =>
      log.warn(
        { breaker: change.breaker, from: change.from, to: change.to, reason: change.reason },
        'circuit breaker changed state',
      ),
    ),
    safeguards.queue.onAbandon((event) =>
      log.error(
        { priority: event.priority, heldMs: event.heldMs },
        'reclaimed the slot of an operation that never ended',
      ),
    ),
    safeguards.onLimitChange((change) =>
      log.info(
        { limit: change.limit, previous: change.previous, limitedBy: change.limitedBy ?? 'budget' },
        'effective connection limit changed',
      ),
    ),
    safeguards.onRetry((event) =>
      log.debug(
        { retry: event.retry, delayMs: event.delayMs, error: event.error.toLogObject(), label: event.label },
        'retrying a database operation',
      ),
    ),
    safeguards.onRejection((event) =>
      log.debug(
        {
          stage: event.stage,
          priority: event.priority,
          label: event.label,
          error: event.error.toLogObject(),
        },
        'refused a database operation',
      ),
    ),
  ];
  return () => {
    for (const subscription of subscriptions) subscription.dispose();
  };
}
