import { type Clock, systemClock } from '../internal/clock.js';
import { type Event, EventEmitter } from '../internal/events.js';
import { type BreakerOptions, defaultBreakerDefinitions, resolveBreakerOptions } from './breaker-options.js';
import { type BreakerStateChange, type BreakerStats, CircuitBreaker } from './circuit-breaker.js';

/** Breaker definitions by name. Missing fields come from the `primary` definition. */
export type BreakerDefinitions = Record<string, Partial<BreakerOptions>>;

/**
 * Named circuit breakers. `primary`, `critical` and `batch` always exist with the source design's
 * defaults unless overridden; any other name is created on first use with `primary`'s options, so an
 * app can give a second database or an external service its own breaker.
 */
export class BreakerRegistry {
  private readonly breakers = new Map<string, CircuitBreaker>();
  private readonly baseOptions: BreakerOptions;
  private readonly stateEmitter = new EventEmitter<BreakerStateChange>();
  /** State changes of every breaker in the registry. */
  readonly onStateChange: Event<BreakerStateChange> = this.stateEmitter.event;

  constructor(
    definitions: BreakerDefinitions = {},
    private readonly clock: Clock = systemClock,
  ) {
    this.baseOptions = resolveBreakerOptions(
      'primary',
      definitions.primary ?? {},
      defaultBreakerDefinitions.primary,
    );
    const all: BreakerDefinitions = { ...defaultBreakerDefinitions, ...definitions };
    for (const [name, options] of Object.entries(all)) {
      const base = (defaultBreakerDefinitions as Record<string, BreakerOptions>)[name] ?? this.baseOptions;
      this.add(name, resolveBreakerOptions(name, options, base));
    }
  }

  /** The breaker called `name`, created with `primary`'s options if it does not exist yet. */
  get(name: string): CircuitBreaker {
    return this.breakers.get(name) ?? this.add(name, this.baseOptions);
  }

  has(name: string): boolean {
    return this.breakers.has(name);
  }

  /** Every breaker, in creation order. */
  list(): CircuitBreaker[] {
    return [...this.breakers.values()];
  }

  /** Closes every breaker. */
  resetAll(): void {
    for (const breaker of this.breakers.values()) breaker.reset();
  }

  stats(): Record<string, BreakerStats> {
    const result: Record<string, BreakerStats> = {};
    for (const [name, breaker] of this.breakers) result[name] = breaker.stats();
    return result;
  }

  private add(name: string, options: BreakerOptions): CircuitBreaker {
    const breaker = new CircuitBreaker(name, options, this.clock);
    breaker.onStateChange((change) => this.stateEmitter.emit(change));
    this.breakers.set(name, breaker);
    return breaker;
  }
}
