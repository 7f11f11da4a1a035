import type { ErrorReason } from './error-reason.js';
import { type ErrorType, errorTypeDefaults, type Severity } from './error-type.js';

const brand = Symbol.for('db-safeguards.SafeguardError');

/** Validation problems in a form a client can show next to its fields. */
export interface ValidationIssue {
  path: string;
  message: string;
}

/** The rate-limit figures a RATE_LIMIT error carries, for response headers. */
export interface RateLimitInfo {
  policy: string;
  limit: number;
  remaining: number;
  resetAt: number;
  retryAfterMs: number;
}

/** Everything needed to build a {@link SafeguardError}; only `type` is required. */
export interface SafeguardErrorInit<T extends ErrorType = ErrorType> {
  type: T;
  /**
   * A short machine-readable sub-kind of `type`, e.g. `too-many-connections`, `unique-violation`,
   * `queue-timeout`, `displaced`, `read-only`: one of the closed list {@link ErrorReason}. Default:
   * the type in kebab case (`not-found`).
   */
  reason?: ErrorReason<T>;
  /** Technical summary for logs (may contain driver messages; never shown to clients). */
  internalMessage?: string;
  userMessage?: string;
  suggestedActions?: readonly string[];
  severity?: Severity;
  retryable?: boolean;
  retryAfterMs?: number;
  httpStatus?: number;
  /**
   * True when the database certainly did not apply the operation (it was refused before running, or
   * rolled back), so even a write that is not idempotent may be run again. False when the outcome is
   * unknown, such as a connection lost while a statement was in flight.
   */
  notApplied?: boolean;
  /** SQLSTATE of the underlying database error, for server-side handling. */
  sqlState?: string;
  constraint?: string;
  table?: string;
  issues?: readonly ValidationIssue[];
  /** On RATE_LIMIT errors: the limit that was hit. */
  rateLimit?: RateLimitInfo;
  cause?: unknown;
  errorId?: string;
}

let fallbackCounter = 0;

/** Two hex digits for every byte value. */
const hexByte = Array.from({ length: 256 }, (_, byte) => byte.toString(16).padStart(2, '0'));
/** Random bytes drawn 256 IDs at a time: under a storm of refusals one call each was a visible cost. */
const idBytes = 8;
let randomPool: Uint8Array | undefined;
let poolOffset = 0;

/** A short random identifier users can quote to support; it links the client's error to the server log. */
export function createErrorId(): string {
  const crypto = (globalThis as { crypto?: { getRandomValues?: (array: Uint8Array) => Uint8Array } }).crypto;
  if (crypto?.getRandomValues) {
    if (randomPool === undefined || poolOffset + idBytes > randomPool.length) {
      randomPool = crypto.getRandomValues(new Uint8Array(idBytes * 256));
      poolOffset = 0;
    }
    let hex = 'err_';
    for (let i = 0; i < idBytes; i++) hex += hexByte[randomPool[poolOffset + i]!];
    poolOffset += idBytes;
    return hex;
  }
  fallbackCounter = (fallbackCounter + 1) % 0xffffff;
  return `err_${Date.now().toString(16)}${fallbackCounter.toString(16).padStart(6, '0')}`;
}

/**
 * The one error class of db-safeguards. Its `message` is the user-facing message, so an error that
 * escapes to a client by accident still shows nothing technical; the technical summary lives in
 * `internalMessage` and the original error in `cause`. `T` narrows the type (and so the reason) of
 * an error built by hand; an error of unknown origin is a `SafeguardError` of any type.
 */
export class SafeguardError<T extends ErrorType = ErrorType> extends Error {
  override readonly name = 'SafeguardError' as const;
  readonly type: T;
  readonly reason: ErrorReason<T>;
  readonly severity: Severity;
  readonly userMessage: string;
  readonly suggestedActions: readonly string[];
  readonly retryable: boolean;
  readonly retryAfterMs: number | undefined;
  readonly httpStatus: number;
  readonly notApplied: boolean;
  readonly errorId: string;
  readonly timestamp: number;
  readonly internalMessage: string;
  readonly sqlState: string | undefined;
  readonly constraint: string | undefined;
  readonly table: string | undefined;
  readonly issues: readonly ValidationIssue[] | undefined;
  readonly rateLimit: RateLimitInfo | undefined;

  constructor(init: SafeguardErrorInit<T>) {
    const defaults = errorTypeDefaults[init.type];
    const userMessage = init.userMessage ?? defaults.userMessage;
    super(userMessage, init.cause === undefined ? undefined : { cause: init.cause });
    this.type = init.type;
    // The default reason of every type is listed first in its ErrorReason union.
    this.reason = init.reason ?? (init.type.toLowerCase().replaceAll('_', '-') as ErrorReason<T>);
    this.severity = init.severity ?? defaults.severity;
    this.userMessage = userMessage;
    this.suggestedActions = init.suggestedActions ?? defaults.suggestedActions;
    this.retryable = init.retryable ?? defaults.retryable;
    this.retryAfterMs =
      init.retryAfterMs === undefined ? undefined : Math.max(0, Math.ceil(init.retryAfterMs));
    this.httpStatus = init.httpStatus ?? defaults.httpStatus;
    this.notApplied = init.notApplied ?? false;
    this.errorId = init.errorId ?? createErrorId();
    this.timestamp = Date.now();
    this.internalMessage = init.internalMessage ?? `${init.type}: ${this.reason}`;
    this.sqlState = init.sqlState;
    this.constraint = init.constraint;
    this.table = init.table;
    this.issues = init.issues;
    this.rateLimit = init.rateLimit;
    Object.defineProperty(this, brand, { value: true });
  }

  /** A copy with some fields replaced (the error ID stays unless replaced too). */
  with(changes: Partial<SafeguardErrorInit>): SafeguardError {
    return new SafeguardError({ ...this.toInit(), ...changes });
  }

  /** A log-friendly object: technical detail included, no stack, SQL or parameters. */
  toLogObject(): Record<string, unknown> {
    return {
      errorId: this.errorId,
      type: this.type,
      reason: this.reason,
      severity: this.severity,
      retryable: this.retryable,
      retryAfterMs: this.retryAfterMs,
      notApplied: this.notApplied,
      httpStatus: this.httpStatus,
      sqlState: this.sqlState,
      constraint: this.constraint,
      table: this.table,
      message: this.internalMessage,
      timestamp: new Date(this.timestamp).toISOString(),
    };
  }

  private toInit(): SafeguardErrorInit<T> {
    return {
      type: this.type,
      reason: this.reason,
      internalMessage: this.internalMessage,
      userMessage: this.userMessage,
      suggestedActions: this.suggestedActions,
      severity: this.severity,
      retryable: this.retryable,
      ...(this.retryAfterMs === undefined ? {} : { retryAfterMs: this.retryAfterMs }),
      httpStatus: this.httpStatus,
      notApplied: this.notApplied,
      ...(this.sqlState === undefined ? {} : { sqlState: this.sqlState }),
      ...(this.constraint === undefined ? {} : { constraint: this.constraint }),
      ...(this.table === undefined ? {} : { table: this.table }),
      ...(this.issues === undefined ? {} : { issues: this.issues }),
      ...(this.rateLimit === undefined ? {} : { rateLimit: this.rateLimit }),
      cause: this.cause,
      errorId: this.errorId,
    };
  }
}

/**
 * True for a {@link SafeguardError}, also one created by another installed copy of this package
 * (the check uses a registered symbol, not `instanceof` alone).
 */
export function isSafeguardError(value: unknown): value is SafeguardError {
  if (typeof value !== 'object' || value === null) return false;
  // A hostile value (a Proxy whose traps throw) is simply not ours: asking must never throw.
  try {
    return value instanceof SafeguardError || (value as Record<symbol, unknown>)[brand] === true;
  } catch {
    return false;
  }
}
