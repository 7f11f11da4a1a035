import { breakerRefusal } from '../errors/refusals.js';
import type { SafeguardError } from '../errors/safeguard-error.js';
import { type Clock, systemClock } from '../internal/clock.js';
import { type Disposable, type Event, EventEmitter } from '../internal/events.js';
import { RollingCounter } from '../internal/rolling-counter.js';
import { type BreakerOptions, defaultBreakerDefinitions, resolveBreakerOptions } from './breaker-options.js';
import { BreakerState } from './breaker-state.js';

/** Why a breaker changed state. */
export type BreakerTransitionReason =
  | 'failures'
  | 'failure-rate'
  | 'probe-failed'
  | 'probes-succeeded'
  | 'open-duration-elapsed'
  | 'forced-open'
  | 'reset'
  | 'isolated'
  | 'isolation-ended';

export interface BreakerStateChange {
  breaker: string;
  from: BreakerState;
  to: BreakerState;
  reason: BreakerTransitionReason;
  at: number;
}

/** Permission to run one call; report its outcome with exactly one of record/release. */
export interface BreakerPermit {
  readonly generation: number;
  readonly probe: boolean;
}

export interface BreakerStats {
  name: string;
  state: BreakerState;
  mode: BreakerOptions['mode'];
  /** Failures in a row (consecutive mode's counter). */
  consecutiveFailures: number;
  /** Failure rate in the window (0..1). */
  failureRate: number;
  totalFailures: number;
  totalSuccesses: number;
  /** Calls refused while open, half-open and busy, or isolated. */
  rejected: number;
  openedAt: number | null;
  /** When an open breaker will admit probes (epoch ms), else null. */
  nextAttemptAt: number | null;
}

/**
 * A circuit breaker. It only hears about outcomes the pipeline reports: the classifier decides which
 * failures are infrastructure failures (connection, transient database, timeouts) and those alone are
 * recorded as failures; a unique violation or a validation error is the database working, a success;
 * an error that says nothing about the database is neither (the permit is released).
 * Open→half-open happens lazily when the breaker is next consulted, so no timer runs.
 */
export class CircuitBreaker {
  readonly options: Readonly<BreakerOptions>;
  private current: BreakerState = BreakerState.CLOSED;
  private generation = 0;
  private closedPermit: BreakerPermit = { generation: 0, probe: false };
  private probePermit: BreakerPermit = { generation: 0, probe: true };
  private consecutiveFailures = 0;
  private probesInFlight = 0;
  private halfOpenSuccesses = 0;
  private openedAt: number | null = null;
  private isolations = 0;
  private readonly windowFailures: RollingCounter;
  private readonly windowTotal: RollingCounter;
  private totals = { failures: 0, successes: 0, rejected: 0 };
  private readonly stateEmitter = new EventEmitter<BreakerStateChange>();
  /** Every state change, with its reason. */
  readonly onStateChange: Event<BreakerStateChange> = this.stateEmitter.event;

  constructor(
    readonly name: string,
    options: Partial<BreakerOptions> = {},
    private readonly clock: Clock = systemClock,
  ) {
    this.options = resolveBreakerOptions(name, options, defaultBreakerDefinitions.primary);
    this.windowFailures = new RollingCounter(clock, this.options.windowMs);
    this.windowTotal = new RollingCounter(clock, this.options.windowMs);
  }

  get state(): BreakerState {
    this.checkOpenElapsed();
    return this.current;
  }

  /** Permission to run a call now, or undefined when the breaker refuses it (see {@link rejection}). */
  tryAcquire(): BreakerPermit | undefined {
    this.checkOpenElapsed();
    switch (this.current) {
      case BreakerState.CLOSED:
        return this.closedPermit;
      case BreakerState.HALF_OPEN:
        if (this.probesInFlight < this.options.halfOpenMaxProbes) {
          this.probesInFlight++;
          return this.probePermit;
        }
        break;
    }
    this.totals.rejected++;
    return undefined;
  }

  /**
   * Whether `permit` still belongs to the breaker's current state. A call that waited (for a slot)
   * after its permit was granted checks this before touching the database: a state change since,
   * such as the breaker opening, makes the permit stale.
   */
  isCurrent(permit: BreakerPermit): boolean {
    this.checkOpenElapsed();
    return permit.generation === this.generation;
  }

  /** The error a refused call gets: CIRCUIT_BREAKER with the time until probes are admitted. */
  rejection(): SafeguardError {
    const state = this.state;
    const retryAfterMs =
      state === BreakerState.OPEN
        ? this.msUntilHalfOpen()
        : state === BreakerState.HALF_OPEN
          ? 1000
          : this.options.openDurationMs;
    return breakerRefusal(this.name, state, retryAfterMs);
  }

  /**
   * The call succeeded, or failed in a way that shows the database is working. `at`: when the call
   * started (epoch ms), if the caller already read the clock, which saves a clock read per call; the
   * failure-rate window counts the call by it (one that started before the window counts as one of
   * its oldest).
   */
  recordSuccess(permit: BreakerPermit, at?: number): void {
    this.totals.successes++;
    if (permit.generation !== this.generation) return;
    if (this.current === BreakerState.CLOSED) {
      this.consecutiveFailures = 0;
      this.windowTotal.add(1, at);
    } else if (this.current === BreakerState.HALF_OPEN && permit.probe) {
      this.probesInFlight--;
      this.halfOpenSuccesses++;
      if (this.halfOpenSuccesses >= this.options.successThreshold)
        this.transition(BreakerState.CLOSED, 'probes-succeeded');
    }
  }

  /**
   * The call failed because of the infrastructure. Counted when it is reported, not when the call
   * started: a call that timed out after more than `windowMs` must still weigh in ratio mode.
   */
  recordFailure(permit: BreakerPermit): void {
    this.totals.failures++;
    if (permit.generation !== this.generation) return;
    if (this.current === BreakerState.CLOSED) {
      this.consecutiveFailures++;
      const now = this.clock.now();
      this.windowFailures.add(1, now);
      this.windowTotal.add(1, now);
      if (this.options.mode === 'consecutive') {
        if (this.consecutiveFailures >= this.options.failureThreshold)
          this.transition(BreakerState.OPEN, 'failures');
      } else if (
        this.windowTotal.total() >= this.options.minimumRequests &&
        this.failureRate() >= this.options.failureRateThreshold
      ) {
        this.transition(BreakerState.OPEN, 'failure-rate');
      }
    } else if (this.current === BreakerState.HALF_OPEN && permit.probe) {
      this.transition(BreakerState.OPEN, 'probe-failed');
    }
  }

  /** The call ended without telling anything about the database (cancelled before it ran). */
  release(permit: BreakerPermit): void {
    if (permit.probe && permit.generation === this.generation && this.current === BreakerState.HALF_OPEN)
      this.probesInFlight--;
  }

  /** Opens the breaker now; it half-opens after the usual open duration. */
  forceOpen(): void {
    if (this.current === BreakerState.ISOLATED) return;
    if (this.current === BreakerState.OPEN) this.openedAt = this.clock.now();
    else this.transition(BreakerState.OPEN, 'forced-open');
  }

  /** Closes the breaker and forgets its history. Also ends any isolation. */
  reset(): void {
    this.isolations = 0;
    this.windowFailures.reset();
    this.windowTotal.reset();
    if (this.current === BreakerState.CLOSED) this.consecutiveFailures = 0;
    else this.transition(BreakerState.CLOSED, 'reset');
  }

  /** Holds the breaker open until every returned handle is disposed (maintenance, a known outage). */
  isolate(): Disposable {
    this.isolations++;
    if (this.current !== BreakerState.ISOLATED) this.transition(BreakerState.ISOLATED, 'isolated');
    let disposed = false;
    return {
      dispose: () => {
        if (disposed) return;
        disposed = true;
        if (this.isolations > 0 && --this.isolations === 0 && this.current === BreakerState.ISOLATED) {
          this.transition(BreakerState.CLOSED, 'isolation-ended');
        }
      },
    };
  }

  /** Milliseconds until an open breaker admits probes; 0 when it is not open. */
  msUntilHalfOpen(): number {
    if (this.current !== BreakerState.OPEN || this.openedAt === null) return 0;
    return Math.max(0, this.openedAt + this.options.openDurationMs - this.clock.now());
  }

  stats(): BreakerStats {
    const state = this.state;
    return {
      name: this.name,
      state,
      mode: this.options.mode,
      consecutiveFailures: this.consecutiveFailures,
      failureRate: this.failureRate(),
      totalFailures: this.totals.failures,
      totalSuccesses: this.totals.successes,
      rejected: this.totals.rejected,
      openedAt: this.openedAt,
      nextAttemptAt:
        state === BreakerState.OPEN && this.openedAt !== null
          ? this.openedAt + this.options.openDurationMs
          : null,
    };
  }

  private failureRate(): number {
    const total = this.windowTotal.total();
    return total === 0 ? 0 : this.windowFailures.total() / total;
  }

  private checkOpenElapsed(): void {
    if (this.current === BreakerState.OPEN && this.msUntilHalfOpen() === 0) {
      this.transition(BreakerState.HALF_OPEN, 'open-duration-elapsed');
    }
  }

  private transition(to: BreakerState, reason: BreakerTransitionReason): void {
    const from = this.current;
    this.current = to;
    this.generation++;
    this.closedPermit = { generation: this.generation, probe: false };
    this.probePermit = { generation: this.generation, probe: true };
    this.probesInFlight = 0;
    this.halfOpenSuccesses = 0;
    if (to === BreakerState.OPEN || to === BreakerState.ISOLATED) this.openedAt = this.clock.now();
    if (to === BreakerState.CLOSED) {
      this.openedAt = null;
      this.consecutiveFailures = 0;
      this.windowFailures.reset();
      this.windowTotal.reset();
    }
    if (this.stateEmitter.hasListeners)
      this.stateEmitter.emit({ breaker: this.name, from, to, reason, at: this.clock.now() });
  }
}
