import type { Safeguards } from '@db-safeguards/core';
import { type Logger, pino } from 'pino';
import type { LogLevel } from '../env.js';

/** How often buffered log lines reach stdout at the latest, in ms. */
export const logFlushIntervalMs = 1000;

/**
 * Structured JSON logs on stdout (one object per line), with the service name on every line.
 *
 * Without `destination`, lines are gathered in memory and written to stdout 4 KiB at a time, or every
 * {@link logFlushIntervalMs} when fewer come, and at exit: one write a request (the access log) was
 * the largest cost a served request had beyond the database and tRPC itself (see the served-cost
 * benchmark in docs/benchmarks.md). A process killed outright (SIGKILL, out of memory) loses at most
 * its last second of lines.
 */
export function createLogger(level: LogLevel, destination?: NodeJS.WritableStream): Logger {
  const options = { level, base: { service: 'vetmed' }, timestamp: pino.stdTimeFunctions.isoTime };
  if (destination) return pino(options, destination as never);
  // Nothing to write: no buffer, no timer.
  if (level === 'silent') return pino(options);
  // pino flushes a destination it built at exit. At most 8 MiB waiting (a stdout that stopped draining): lines beyond are dropped, not kept in memory.
  const stdout = pino.destination({ dest: 1, sync: false, minLength: 4096, maxLength: 8 * 1024 * 1024 });
  setInterval(() => {
    try {
      stdout.flush();
    } catch {
      // Ended (the process is exiting): nothing left to write.
    }
  }, logFlushIntervalMs).unref();
  return pino(options, stdout);
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
    // The level is checked first: these come by the thousand under overload, and building a line
    // nobody writes (the error's log object) was a visible part of a refusal's CPU.
    safeguards.onRetry((event) => {
      if (!log.isLevelEnabled('debug')) return;
      log.debug(
        { retry: event.retry, delayMs: event.delayMs, error: event.error.toLogObject(), label: event.label },
        'retrying a database operation',
      );
    }),
    safeguards.onRejection((event) => {
      if (!log.isLevelEnabled('debug')) return;
      log.debug(
        {
          stage: event.stage,
          priority: event.priority,
          label: event.label,
          error: event.error.toLogObject(),
        },
        'refused a database operation',
      );
    }),
  ];
  return () => {
    for (const subscription of subscriptions) subscription.dispose();
  };
}
