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
}
