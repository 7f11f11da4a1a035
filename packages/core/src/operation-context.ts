import type { Priority } from './priority.js';

/** What an operation does to the database. It decides its defaults: priority, retries, breaker. */
export type OperationType = 'read' | 'write' | 'critical' | 'batch';

/**
 * Who is asking: the parts a rate-limit key is built from, most specific first. `tenantId` is the
 * account, organisation or workspace the caller acts for (whatever your app calls it): callers with
 * no user of their own share the limits of their tenant.
 */
export interface RequestIdentity {
  userId?: string | number | undefined;
  tenantId?: string | number | undefined;
  ip?: string | undefined;
}

/**
 * How one call to `run` should be treated. Every field is optional; inside another operation or a
 * `withContext` block, missing fields are inherited from the surrounding context.
 */
export interface RunContext extends RequestIdentity {
  /** Queue priority. Default: from `operationType` (CRITICAL for 'critical', BATCH for 'batch', else NORMAL). */
  priority?: Priority;
  /**
   * What the operation does. Default 'write': an operation the toolkit knows nothing about is not
   * retried after an ambiguous failure and is refused in read-only mode. Declare reads as 'read'.
   */
  operationType?: OperationType;
  /**
   * Safe to run twice. Default: true for 'read' only; false for 'write', 'batch' and 'critical' (a
   * critical write is still a write: set `idempotent: true` on a critical read such as a health
   * probe). Only idempotent operations are retried after a failure whose outcome is unknown.
   */
  idempotent?: boolean;
  /**
   * The operation is one statement or one transaction, so a failure the database reports (a
   * serialization failure, a deadlock, a refused connection) means none of it was applied and it can
   * be rerun even when it is not idempotent. Set by the driver wrappers; default false.
   */
  atomic?: boolean;
  /** Rate-limit policy to charge (`api`, `auth`, `recording`, ...). No policy, no rate limit. */
  policy?: string;
  /** Cancels the operation: a waiter leaves the queue at once, a running operation sees its scope aborted. */
  signal?: AbortSignal | undefined;
  /**
   * Absolute deadline in epoch milliseconds (a finite number). Bounds queueing, every attempt and
   * every retry wait; an operation whose deadline has passed is refused with TIMEOUT.
   */
  deadline?: number | undefined;
  /** Relative alternative to `deadline`, a finite number >= 0. Default: the instance's `defaultTimeoutMs`. */
  timeoutMs?: number;
  /** Circuit breaker name. Default: 'critical' for CRITICAL work, 'batch' for BATCH work, else 'primary'. */
  breaker?: string;
  /** A name for logs and error reports, e.g. the tRPC path. */
  label?: string;
  /**
   * The call was already let through by `Safeguards.admit` (the tRPC edge or middleware set it): the
   * load is still checked at its first operation, but the utilisation target does not count it again.
   */
  admitted?: boolean;
}
