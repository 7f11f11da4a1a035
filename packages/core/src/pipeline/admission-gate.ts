import type { SafeguardError } from '../errors/safeguard-error.js';
import type { Priority } from '../priority.js';

/**
 * One input of admission besides the rate limit, the breaker and the queue: something of the process
 * that may refuse new work at once, whatever the database's state (the load monitor is one). Gates
 * are asked in the composition order after read-only mode and before the rate limit, so a refused
 * call spends no rate-limit token; only for a request's first operation (a continuation of a request
 * already started is let through, so started work finishes). A refusal is load, never a failure: it
 * opens no breaker and does not count against the error rate.
 */
export interface AdmissionGate {
  /**
   * The refusal for a new call of `priority` at `now` (epoch ms), or undefined to let it through.
   * Synchronous and cheap: it runs on every call. `admitted` is true when the call was let through
   * before (by `Safeguards.admit` at the HTTP edge or in the middleware, or by an earlier operation of
   * its request that has not started yet) and is asked again: a gate that counts the calls it lets
   * through must not count it twice (a mark may still refuse it: the load may have changed).
   */
  refusal(priority: Priority, now: number, admitted?: boolean): SafeguardError | undefined;
}
