import type { ErrorType } from './error-type.js';

/**
 * The reasons the toolkit itself gives, by error type: a closed list, so a client's
 * `switch (error.reason)` is checked by the compiler. The first of each type is the one an error
 * built without a reason gets (its type in kebab case). Words from HTTP statuses and tRPC codes
 * (`bad-request`, `too-many-requests`, ...) are what the tRPC adapter gives an error a procedure
 * threw on purpose.
 */
interface BuiltInErrorReasons {
  VALIDATION:
    | 'validation'
    | 'invalid-input'
    | 'not-null-violation'
    | 'check-violation'
    | 'data-exception'
    | 'bad-request'
    | 'parse-error'
    | 'unprocessable-content'
    | 'payload-too-large'
    | 'method-not-supported'
    | 'unsupported-media-type';
  /** A rate-limit policy refused the call (the policy is in `error.rateLimit`). */
  RATE_LIMIT: 'rate-limit' | 'too-many-requests';
  CONNECTION:
    | 'connection'
    | 'shutting-down'
    | 'client-closed'
    | 'too-many-connections'
    | 'connection-lost'
    | 'connection-refused'
    | 'connection-rejected'
    | 'connection-reset'
    | 'connection-exception'
    | 'cannot-connect'
    | 'cannot-connect-now'
    | 'connect-timeout'
    | 'pool-wait-timeout'
    | 'admin-shutdown'
    | 'crash-shutdown'
    | 'idle-session-timeout'
    | 'operator-intervention'
    | 'transaction-resolution-unknown'
    | 'database-authentication-failed'
    | 'database-http-error'
    | 'dns-failure'
    | 'host-unreachable'
    | 'network-error'
    | 'network-timeout'
    | 'network-unreachable'
    | 'websocket-failed'
    | 'neon-compute-unreachable'
    | 'neon-endpoint-disabled'
    | 'neon-endpoint-not-found'
    | 'neon-quota-exceeded'
    | 'service-unavailable'
    | 'bad-gateway';
  CIRCUIT_BREAKER:
    | 'circuit-breaker'
    | 'circuit-open'
    | 'circuit-half-open'
    | 'circuit-isolated'
    | 'read-only';
  /**
   * The connection budget refused a waiter (`queue-full`, `shed`, `displaced`), or the process itself
   * was too loaded to take the call (`overloaded`: event-loop lag or memory past its marks).
   */
  QUEUE_FULL: 'queue-full' | 'shed' | 'displaced' | 'overloaded';
  TIMEOUT:
    | 'timeout'
    | 'deadline'
    | 'aborted'
    | 'queue-timeout'
    | 'statement-timeout'
    | 'query-cancelled'
    | 'gateway-timeout'
    | 'client-closed-request';
  DATABASE:
    | 'database'
    | 'database-error'
    | 'database-http-error'
    | 'serialization-failure'
    | 'deadlock'
    | 'lock-not-available'
    | 'insufficient-resources'
    | 'out-of-memory'
    | 'disk-full'
    | 'configuration-limit-exceeded'
    | 'statement-completion-unknown'
    | 'in-failed-transaction'
    | 'read-only-transaction'
    | 'undefined-database'
    | 'undefined-schema'
    | 'feature-not-supported'
    | 'dependent-objects-still-exist'
    | 'invalid-statement'
    | 'protocol-violation'
    | 'system-error'
    | 'internal-error';
  AUTHENTICATION: 'authentication' | 'unauthorized';
  AUTHORIZATION: 'authorization' | 'insufficient-privilege' | 'forbidden';
  NOT_FOUND: 'not-found';
  CONFLICT:
    | 'conflict'
    | 'unique-violation'
    | 'foreign-key-violation'
    | 'exclusion-violation'
    | 'restrict-violation'
    | 'integrity-constraint-violation'
    | 'precondition-failed';
  INTERNAL:
    | 'internal'
    | 'unexpected'
    | 'unclassifiable'
    | 'internal-server-error'
    | 'not-implemented'
    | 'payment-required'
    | 'precondition-required';
}

/**
 * Reasons your app adds, by error type, declared once by augmenting this interface; every other
 * reason stays a compile error.
 *
 * @example
 * declare module '@db-safeguards/core' {
 *   interface AppErrorReasons {
 *     CONFLICT: 'idempotency-key-reused';
 *     NOT_FOUND: 'order-not-found';
 *   }
 * }
 */
// biome-ignore lint/suspicious/noEmptyInterface: an interface (not a type) so that apps can augment it.
export interface AppErrorReasons {}

/**
 * The machine-readable sub-kind of an error of type `T` (of any type when `T` is omitted): the
 * toolkit's own reasons plus those declared in {@link AppErrorReasons}. Stable: clients and alerts
 * may switch on it.
 */
export type ErrorReason<T extends ErrorType = ErrorType> = T extends ErrorType
  ? BuiltInErrorReasons[T] | (T extends keyof AppErrorReasons ? AppErrorReasons[T] : never)
  : never;
