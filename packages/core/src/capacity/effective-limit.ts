import { type Event, EventEmitter } from '../internal/events.js';
import { assertInteger } from '../internal/validate.js';

/** A change of the effective connection limit of a process. */
export interface LimitChange {
  /** Slots the process may hold from now on. */
  limit: number;
  previous: number;
  /** The input that sets the limit now (`database`, `shared`, ...); undefined: the configured budget. */
  limitedBy: string | undefined;
  /**
   * The most slots held at once since the previous change. A pool that opens a connection only for
   * an operation holding a slot has opened at most this many since then: when the limit drops below
   * what it may still keep open, it should close idle connections (see `Safeguards.onLimitChange`).
   */
  peakHeld: number;
}

/**
 * The number of slots a process may hold right now: the configured budget, lowered by any number of
 * named inputs, each a load signal with an opinion of its own (`database`: what the database's "too
 * many connections" answers allow; `shared`: this instance's grant from a budget shared by many
 * instances; an event-loop or memory signal can be one more). The effective limit is the smallest of
 * them, never above the budget. A new signal is one more `set(name, limit)`: nothing else changes.
 *
 * It may drop below the slots held: the queue then grants nothing new until enough are released.
 */
export class EffectiveLimit {
  private readonly inputs = new Map<string, number>();
  private current: number;
  private bound: string | undefined = undefined;
  private readonly emitter = new EventEmitter<LimitChange>();
  /** Fires after every change of {@link limit}. */
  readonly onChange: Event<LimitChange> = this.emitter.event;

  /**
   * @param configured the budget (`queue.maxConcurrentConnections`): the ceiling of every input.
   * @param apply called with every new limit before `onChange` fires (the queue's `setLimit`).
   * @param takePeakHeld the most slots held since its previous call, counting again from now (the
   *   queue's `takeHeldPeak`); default 0.
   */
  constructor(
    readonly configured: number,
    private readonly apply: (limit: number) => void,
    private readonly takePeakHeld: () => number = () => 0,
  ) {
    this.current = configured;
  }

  /** Slots the process may hold now. */
  get limit(): number {
    return this.current;
  }

  /** The input that sets the limit now; undefined when nothing lowers the configured budget. */
  get limitedBy(): string | undefined {
    return this.bound;
  }

  /** Sets (or replaces) one input's limit: an integer from 0; values above the budget mean "no opinion". */
  set(name: string, limit: number): void {
    assertInteger(`limit input "${name}"`, limit, 0);
    if (this.inputs.get(name) === limit) return;
    this.inputs.set(name, limit);
    this.recompute();
  }

  /** Removes an input: it no longer lowers the limit. */
  delete(name: string): void {
    if (this.inputs.delete(name)) this.recompute();
  }

  /** Every input's current limit, by name. */
  snapshot(): Record<string, number> {
    return Object.fromEntries(this.inputs);
  }

  private recompute(): void {
    let limit = this.configured;
    let bound: string | undefined;
    for (const [name, value] of this.inputs) {
      if (value < limit) {
        limit = value;
        bound = name;
      }
    }
    this.bound = bound;
    if (limit === this.current) return;
    const previous = this.current;
    this.current = limit;
    this.apply(limit);
    this.emitter.emit({ limit, previous, limitedBy: bound, peakHeld: this.takePeakHeld() });
  }
}
