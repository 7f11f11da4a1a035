import { SafeguardError } from '../errors/safeguard-error.js';

/** Why writes are refused right now. */
export interface ReadOnlyStatus {
  active: boolean;
  /** 'manual' when switched on by hand, else the name of the open breaker that switched it on. */
  source: 'manual' | `breaker:${string}` | null;
  reason: string | null;
}

/**
 * Read-only mode: writes are refused with a typed error while reads continue. Switched by hand
 * (maintenance, storage quota reached) or automatically while one of the watched breakers is open.
 */
export class ReadOnlyMode {
  private manualReason: string | null = null;

  constructor(private readonly openBreaker: () => string | undefined) {}

  enable(reason = 'maintenance'): void {
    this.manualReason = reason;
  }

  disable(): void {
    this.manualReason = null;
  }

  status(): ReadOnlyStatus {
    if (this.manualReason !== null) return { active: true, source: 'manual', reason: this.manualReason };
    const breaker = this.openBreaker();
    if (breaker !== undefined)
      return { active: true, source: `breaker:${breaker}`, reason: `circuit breaker "${breaker}" is open` };
    return { active: false, source: null, reason: null };
  }

  /** The error a refused write gets, or undefined when writes are allowed. */
  rejection(retryAfterMs?: number): SafeguardError | undefined {
    const status = this.status();
    return status.active ? readOnlyError(status, retryAfterMs) : undefined;
  }
}

/** @internal The error a write refused under `status` (an active one) gets. Not exported from the package. */
export function readOnlyError(status: ReadOnlyStatus, retryAfterMs: number | undefined): SafeguardError {
  return new SafeguardError({
    type: 'CIRCUIT_BREAKER',
    reason: 'read-only',
    retryable: true,
    notApplied: true,
    ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
    userMessage: 'Changes are paused for a moment while we recover. You can still view your data.',
    suggestedActions: ['Try saving again shortly; nothing you entered has been stored yet.'],
    internalMessage: `read-only mode (${status.source}): ${status.reason}`,
  });
}
